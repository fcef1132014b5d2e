// The frame of every page (head, navigation, notices) and the pieces pages share: links under the
// base path, action forms with their CSRF field and confirm text, state badges.
//
// Stable `data-testid` attributes (for the browser tests; keep them when changing markup):
//   nav-overview, nav-jobs, nav-schedules, nav-workers   navigation links
//   live-status                                          the live indicator (text: live | polling | offline)
//   notice, error                                        the outcome of the last action / an error message
//   read-only-badge                                      shown in read-only mode
//   action-<name>                                        every action button (action-retry, action-cancel,
//                                                        action-delete, action-redrive, action-pause,
//                                                        action-resume, action-trigger, action-bulk-<name>)
//   (page-specific ids are listed at the top of each page file)
import type { DashboardConfig } from '../config.js'
import { CSRF_FIELD } from '../http/csrf.js'
import { type Html, html } from '../http/html.js'

/** What every page renders with. */
export interface PageContext {
  readonly config: DashboardConfig
  readonly csrfToken: string
  /** The database's clock when the page was read. */
  readonly now: Date
  /** The outcome of the action that redirected here, already mapped to a fixed message. */
  readonly notice: string | null
}

/** A path under the base path, with an optional query. */
export function href(
  ctx: PageContext,
  path: string,
  query?: Record<string, string | null | undefined>,
): string {
  const base = `${ctx.config.basePath}${path}` || '/'
  if (!query) return base
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value)
  const text = params.toString()
  return text ? `${base}?${text}` : base
}

const NAV = [
  ['overview', '/', 'Overview', 'g o'],
  ['jobs', '/jobs', 'Jobs', 'g j'],
  ['schedules', '/schedules', 'Schedules', 'g s'],
  ['workers', '/workers', 'Workers', 'g w'],
] as const

/** Which navigation entry a page belongs to. */
export type Section = (typeof NAV)[number][0]

/** The whole document around a page's content. */
export function layout(
  ctx: PageContext,
  page: { title: string; section: Section; body: Html; job?: string; state?: string },
): Html {
  const base = ctx.config.basePath
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${page.title} · pgq</title>
<link rel="icon" href="${base}/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}/assets/dashboard.css">
<script src="${base}/assets/dashboard.js" defer></script>
</head>
<body data-base="${base}" data-events="${base}/events" data-poll="${base}/api/live" data-page="${page.section}" data-job="${page.job ?? ''}" data-state="${page.state ?? ''}">
<header class="top">
  <a class="brand" href="${href(ctx, '/')}">pgq</a>
  <span class="schema" title="schema">${ctx.config.pgq.config.schema}</span>
  <nav>${NAV.map(
    ([id, path, label, keys]) =>
      html`<a href="${href(ctx, path)}" data-testid="nav-${id}" title="${keys}"${page.section === id ? html` aria-current="page"` : ''}>${label}</a>`,
  )}</nav>
  <span class="spacer"></span>
  ${ctx.config.readOnly ? html`<span class="badge badge-muted" data-testid="read-only-badge">read-only</span>` : ''}
  <span class="live" data-testid="live-status" data-live-status>offline</span>
</header>
<main>
${ctx.notice ? html`<p class="notice" role="status" data-testid="notice">${ctx.notice}</p>` : ''}
${page.body}
</main>
<div class="toasts" data-toasts aria-live="polite"></div>
<footer>Keys: <kbd>g</kbd> <kbd>o</kbd>/<kbd>j</kbd>/<kbd>s</kbd>/<kbd>w</kbd> go to a page · <kbd>/</kbd> search · <kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open</footer>
</body>
</html>
`
}

/**
 * A POST form with one button: the CSRF field, a confirm text the client script asks about, and
 * `return` (where to come back). Renders nothing in read-only mode.
 */
export function actionForm(
  ctx: PageContext,
  options: {
    action: string
    label: string
    testid: string
    confirm: string
    returnTo: string
    fields?: Record<string, string | readonly string[] | null | undefined>
    danger?: boolean
  },
): Html {
  if (ctx.config.readOnly) return html``
  const fields = Object.entries(options.fields ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : value ? [value] : []).map(
      (v) => html`<input type="hidden" name="${name}" value="${v}">`,
    ),
  )
  return html`<form class="inline" method="post" action="${href(ctx, options.action)}" data-confirm="${options.confirm}">
<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrfToken}">
<input type="hidden" name="return" value="${options.returnTo}">${fields}
<button type="submit" class="${options.danger ? 'btn btn-danger' : 'btn'}" data-testid="${options.testid}">${options.label}</button>
</form>`
}

/** A job state as a coloured badge. */
export function stateBadge(state: string, testid?: string): Html {
  return html`<span class="badge state-${state}"${testid ? html` data-testid="${testid}"` : ''}>${state}</span>`
}

/** A page for a missing job, schedule or path. */
export function notFound(ctx: PageContext, what: string): Html {
  return layout(ctx, {
    title: 'Not found',
    section: 'overview',
    body: html`<h1>Not found</h1><p data-testid="error">${what}</p><p><a href="${href(ctx, '/')}">Back to the overview</a></p>`,
  })
}

/** A page for a refused or failed action. */
export function errorPage(ctx: PageContext, title: string, message: string): Html {
  return layout(ctx, {
    title,
    section: 'overview',
    body: html`<h1>${title}</h1><p class="error" data-testid="error">${message}</p><p><a href="${href(ctx, '/')}">Back to the overview</a></p>`,
  })
}
