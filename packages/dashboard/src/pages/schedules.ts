// Schedules: expression, time zone, the next five fires, the last run and its job, pause/resume and
// run now.
//
// data-testid: schedule-row (data-schedule=<name>, id schedule-<name>), schedule-status,
// next-fires, last-job-link, action-pause, action-resume, action-trigger.
import type { ScheduleInfo } from '@pgq/core'
import { type Html, html } from '../http/html.js'
import { ago, timestamp } from './format.js'
import { actionForm, href, layout, type PageContext, stateBadge } from './layout.js'

/** A schedule with its next fires (or why they cannot be computed). */
export interface ScheduleView {
  readonly info: ScheduleInfo
  readonly next: readonly { at: Date; local: string }[]
  readonly previewError: string | null
}

/** `2026-12-03T03:00:00+01:00` → `2026-12-03 03:00 (+01:00)`. */
function localTime(local: string): string {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::00)?(?:\.\d+)?(.*)$/.exec(local)
  return match
    ? `${match[1]} ${match[2]}${match[3] ? ` (${match[3] === 'Z' ? 'UTC' : match[3]})` : ''}`
    : local
}

function row(ctx: PageContext, view: ScheduleView): Html {
  const s = view.info
  const returnTo = href(ctx, '/schedules')
  const base = `/actions/schedules/${encodeURIComponent(s.name)}`
  return html`<tr id="schedule-${s.name}" data-testid="schedule-row" data-schedule="${s.name}" data-nav-row>
<th scope="row">${s.name}<br><small>${s.source === 'code' ? 'declared in code' : 'table'}</small></th>
<td><code>${s.cron}</code><br><small>${s.timezone}</small></td>
<td>${s.task}<br><small>queue ${s.queue ?? '(task default)'}</small></td>
<td><span class="badge status-${s.status}" data-testid="schedule-status">${s.status}</span>${s.error ? html`<br><small class="error-text">${s.error}</small>` : ''}</td>
<td data-testid="next-fires">${
    view.previewError
      ? html`<small class="error-text">${view.previewError}</small>`
      : s.paused
        ? html`<small>paused</small>`
        : html`<ol class="fires">${view.next.map((f) => html`<li title="${timestamp(f.at)}">${localTime(f.local)}</li>`)}</ol>`
  }</td>
<td>${s.lastRunAt ? html`<span title="${timestamp(s.lastRunAt)}">${ago(s.lastRunAt, ctx.now)}</span>` : '—'}${
    s.lastJobId
      ? html`<br><a data-testid="last-job-link" href="${href(ctx, `/jobs/${s.lastJobId}`)}">#${s.lastJobId}</a> ${s.lastJobState ? stateBadge(s.lastJobState) : html`<small>(pruned)</small>`}`
      : ''
  }</td>
<td class="actions">${
    s.paused
      ? actionForm(ctx, {
          action: `${base}/resume`,
          label: 'Resume',
          testid: 'action-resume',
          confirm: `Resume schedule ${s.name}?`,
          returnTo,
        })
      : actionForm(ctx, {
          action: `${base}/pause`,
          label: 'Pause',
          testid: 'action-pause',
          confirm: `Pause schedule ${s.name}?`,
          returnTo,
        })
  }${actionForm(ctx, { action: `${base}/trigger`, label: 'Run now', testid: 'action-trigger', confirm: `Enqueue a job of schedule ${s.name} now?`, returnTo })}</td>
</tr>`
}

/** The schedules page. */
export function schedulesPage(ctx: PageContext, schedules: readonly ScheduleView[]): Html {
  const body = html`<h1>Schedules</h1>
${
  schedules.length === 0
    ? html`<p class="empty">No schedules. Declare one with <code>defineSchedule</code> or <code>pgq schedule set</code>.</p>`
    : html`<table class="list" data-testid="schedules">
<thead><tr><th>Name</th><th>Cron</th><th>Task</th><th>Status</th><th>Next fires</th><th>Last run</th><th></th></tr></thead>
<tbody>${schedules.map((s) => row(ctx, s))}</tbody></table>`
}`
  return layout(ctx, { title: 'Schedules', section: 'schedules', body })
}
