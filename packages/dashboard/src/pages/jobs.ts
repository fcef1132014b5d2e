// The jobs list: filter form, a keyset page of 50, and bulk actions over the whole filter.
//
// data-testid: jobs-filter, search-input, job-row (data-job-id=<id>), job-state, next-page,
// window-end, bulk-actions, action-bulk-<retry|cancel|delete>.
import { type Html, html } from '../http/html.js'
import { bulkable, filterQuery, type JobsFilter } from '../jobs-filter.js'
import type { JobPage } from '../sql/job-search-queries.js'
import { ago, oneLine, progressPercent } from './format.js'
import { actionForm, href, layout, type PageContext, stateBadge } from './layout.js'

const STATES = ['available', 'blocked', 'running', 'succeeded', 'failed', 'cancelled', 'expired'] as const

function filterForm(ctx: PageContext, filter: JobsFilter, queues: readonly string[]): Html {
  return html`<form class="filters" method="get" action="${href(ctx, '/jobs')}" data-testid="jobs-filter">
<label>State <select name="state"><option value="">any</option>${STATES.map(
    (s) => html`<option value="${s}"${filter.state === s ? html` selected` : ''}>${s}</option>`,
  )}</select></label>
<label>Queue <select name="queue"><option value="">any</option>${queues.map(
    (q) => html`<option value="${q}"${filter.queue === q ? html` selected` : ''}>${q}</option>`,
  )}</select></label>
<label>Task <input name="task" value="${filter.task ?? ''}" placeholder="any" size="14"></label>
<label>Created from <input type="datetime-local" name="from" value="${filter.from ?? ''}"></label>
<label>to <input type="datetime-local" name="to" value="${filter.to ?? ''}"> <small>UTC</small></label>
<label class="grow">Search <input type="search" name="q" value="${filter.q ?? ''}" placeholder="text in payload or errors ( / )" data-search data-testid="search-input"></label>
<button type="submit" class="btn">Filter</button>
<a class="btn btn-plain" href="${href(ctx, '/jobs')}">Clear</a>
</form>`
}

function bulkActions(ctx: PageContext, filter: JobsFilter, returnTo: string): Html {
  if (ctx.config.readOnly) return html``
  if (!bulkable(filter)) {
    return html`<p class="hint" data-testid="bulk-actions">Bulk actions apply to a state, queue or task filter (not to a search or time range).</p>`
  }
  const fields = { state: filter.state, queue: filter.queue, task: filter.task }
  const scope = [
    filter.state ?? 'any state',
    filter.queue ? `queue ${filter.queue}` : 'every queue',
    filter.task ? `task ${filter.task}` : 'every task',
  ].join(', ')
  const form = (action: string, label: string, verb: string, danger = false) =>
    actionForm(ctx, {
      action: '/actions/jobs',
      label,
      testid: `action-bulk-${action}`,
      confirm: `${verb} every job matching: ${scope}?`,
      returnTo,
      fields: { ...fields, action },
      danger,
    })
  const canRetry =
    !filter.state || filter.state === 'failed' || filter.state === 'cancelled' || filter.state === 'expired'
  const canCancel = !filter.state || filter.state === 'available' || filter.state === 'running'
  const canDelete = filter.state !== 'running'
  return html`<div class="bulk" data-testid="bulk-actions"><span>All matching jobs:</span>
${canRetry ? form('retry', 'Retry all', 'Retry') : ''}${canCancel ? form('cancel', 'Cancel all', 'Cancel') : ''}${canDelete ? form('delete', 'Delete all', 'Delete', true) : ''}
</div>`
}

/** The jobs page. */
export function jobsPage(
  ctx: PageContext,
  filter: JobsFilter,
  page: JobPage,
  queues: readonly string[],
): Html {
  const query = filterQuery(filter)
  const returnTo = href(ctx, '/jobs', { ...query, before: filter.before })
  const rows = page.rows.map((job) => {
    const pct = progressPercent(job.progress)
    return html`<tr data-testid="job-row" data-job-id="${job.id}" data-nav-row>
<td class="num"><a href="${href(ctx, `/jobs/${job.id}`)}">#${job.id}</a></td>
<td>${job.task}</td><td>${job.queue}</td>
<td>${stateBadge(job.state, 'job-state')}${job.state === 'running' && pct !== null ? html` <progress max="100" value="${pct}"></progress>` : ''}</td>
<td class="num">${job.attempts}/${job.max_attempts}</td>
<td title="${job.created_at.toISOString()}">${ago(job.created_at, ctx.now)}</td>
<td title="${job.finished_at?.toISOString() ?? ''}">${job.finished_at ? ago(job.finished_at, ctx.now) : job.started_at ? 'running' : job.run_at > ctx.now ? `due in ${ago(ctx.now, job.run_at).replace(' ago', '')}` : 'due'}</td>
<td class="error-text">${oneLine(job.last_error)}</td>
</tr>`
  })
  const body = html`<h1>Jobs</h1>
${filterForm(ctx, filter, queues)}
${bulkActions(ctx, filter, returnTo)}
${
  page.rows.length === 0
    ? html`<p class="empty" data-testid="jobs-empty">No jobs match${page.windowEnd ? ' in this stretch' : ''}.</p>`
    : html`<table class="list" data-testid="jobs">
<thead><tr><th class="num">Id</th><th>Task</th><th>Queue</th><th>State</th><th class="num">Attempts</th><th>Created</th><th>Finished</th><th>Last error</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
<nav class="pager">
${filter.before ? html`<a class="btn btn-plain" href="${href(ctx, '/jobs', query)}">Newest</a>` : ''}
${
  page.next
    ? html`<a class="btn" rel="next" data-testid="next-page" href="${href(ctx, '/jobs', { ...query, before: page.next })}">${page.windowEnd ? 'Search older jobs' : 'Older'} →</a>`
    : ''
}
${page.windowEnd ? html`<span class="hint" data-testid="window-end">Searched down to job #${page.windowEnd}; searches examine 50,000 jobs per page.</span>` : ''}
</nav>`
  return layout(ctx, { title: 'Jobs', section: 'jobs', body })
}
