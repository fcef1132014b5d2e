// One job: state, live progress, actions, facts (dedup key, schedule, lock holder), the timeline
// with every failed attempt and its stack, and the payload and result (large ones truncated).
// Payloads appear on this page only.
//
// data-testid: job-title, job-state, progress-bar, progress-value, job-facts, lock-holder,
// schedule-link, timeline, timeline-error, payload, payload-truncated, result,
// action-retry, action-cancel, action-delete.
import type { Job, WorkerInfo } from '@pgq/core'
import { type Html, html } from '../http/html.js'
import { ago, duration, progressPercent, timestamp } from './format.js'
import { actionForm, href, layout, type PageContext, stateBadge } from './layout.js'

/** Payloads and results longer than this (characters of pretty JSON) are cut. */
export const MAX_SHOWN_JSON = 64 * 1024

function jsonBlock(value: unknown, testid: string): Html {
  const text = JSON.stringify(value, null, 2) ?? 'null'
  if (text.length <= MAX_SHOWN_JSON) return html`<pre class="json" data-testid="${testid}">${text}</pre>`
  return html`<pre class="json" data-testid="${testid}">${text.slice(0, MAX_SHOWN_JSON)}</pre>
<p class="hint" data-testid="${testid}-truncated">Truncated: showing the first 64 KB of ${Math.ceil(text.length / 1024)} KB. Read it whole with <code>pgq jobs --id …</code> or SQL.</p>`
}

function timeline(ctx: PageContext, job: Job): Html {
  type Entry = { at: Date; label: string; detail?: Html; kind?: string }
  const entries: Entry[] = [{ at: job.createdAt, label: 'enqueued' }]
  if (job.runAt.getTime() !== job.createdAt.getTime()) {
    entries.push({ at: job.runAt, label: job.runAt > ctx.now ? 'due (future)' : 'due' })
  }
  const took = (from: Date | null, to: Date) =>
    from ? ` after ${duration(to.getTime() - from.getTime())}` : ''
  const on = (worker: string | null | undefined) => (worker ? ` on worker ${worker.slice(0, 8)}` : '')
  // an expired job's last error says why it ended: shown with its end below, not as an attempt
  const expiry = job.state === 'expired' ? job.errors.at(-1) : undefined
  job.errors.forEach((error, index) => {
    if (expiry && index === job.errors.length - 1) return
    // the last error of a failed job is its end: one entry, not two
    const final = job.state === 'failed' && index === job.errors.length - 1 && job.finishedAt !== null
    // errors record when their attempt started and the worker that ran it
    const started = error.startedAt ? new Date(error.startedAt) : null
    if (started) entries.push({ at: started, label: `attempt ${error.attempt} started${on(error.worker)}` })
    entries.push({
      at: new Date(error.at),
      label: final
        ? `attempt ${error.attempt} failed for good${took(started ?? job.startedAt, job.finishedAt!)}`
        : `attempt ${error.attempt} failed${took(started, new Date(error.at))}`,
      kind: 'failed',
      detail: html`<p class="error-text">${error.message}</p>${error.stack ? html`<details><summary>stack</summary><pre class="stack">${error.stack}</pre></details>` : ''}`,
    })
  })
  // the latest attempt's start, unless its error above already carries it
  if (
    job.startedAt &&
    !job.errors.some((e) => e.startedAt && Date.parse(e.startedAt) === job.startedAt!.getTime())
  ) {
    // while it runs the lease holder; once it ended, the worker whose outcome was written last
    const holder = on(job.state === 'running' ? job.lockedBy : job.lastWorker)
    entries.push({ at: job.startedAt, label: `attempt ${job.attempts} started${holder}` })
  }
  if (job.cancelRequestedAt) entries.push({ at: job.cancelRequestedAt, label: 'cancel requested' })
  if (job.finishedAt && !(job.state === 'failed' && job.errors.length > 0)) {
    entries.push({
      at: job.finishedAt,
      label: `${job.state}${took(job.startedAt, job.finishedAt)}`,
      kind: job.state,
      ...(expiry ? { detail: html`<p class="error-text">${expiry.message}</p>` } : {}),
    })
  }
  entries.sort((a, b) => a.at.getTime() - b.at.getTime())
  return html`<ol class="timeline" data-testid="timeline">${entries.map(
    (e) =>
      html`<li${e.kind ? html` class="${e.kind}"` : ''}${e.kind === 'failed' ? html` data-testid="timeline-error"` : ''}><time datetime="${e.at.toISOString()}">${timestamp(e.at)}</time> <strong>${e.label}</strong>${e.detail ?? ''}</li>`,
  )}</ol>`
}

function facts(ctx: PageContext, job: Job, worker: WorkerInfo | undefined): Html {
  const row = (label: string, value: Html | string) => html`<dt>${label}</dt><dd>${value}</dd>`
  return html`<dl class="facts" data-testid="job-facts">
${row('task', job.task)}${row('queue', html`<a href="${href(ctx, '/jobs', { queue: job.queue })}">${job.queue}</a>`)}
${row('priority', String(job.priority))}
${row('attempts', `${job.attempts} of ${job.maxAttempts} (interruptions ${job.interruptions} of ${job.maxInterruptions})`)}
${row('dedup key', job.dedupKey ?? '—')}
${row('workflow', job.workflowId ? html`<a data-testid="workflow" href="${href(ctx, `/workflows/${job.workflowId}`)}">#${job.workflowId}</a> <small>(<code>pgq jobs --workflow ${job.workflowId}</code>)</small>` : '—')}
${row(
  'schedule',
  job.scheduleName
    ? html`<a data-testid="schedule-link" href="${href(ctx, '/schedules')}#schedule-${job.scheduleName}">${job.scheduleName}</a>${job.scheduledFor ? ` (tick ${timestamp(job.scheduledFor)})` : ''}`
    : '—',
)}
${
  job.state === 'running'
    ? row(
        'held by',
        html`<span data-testid="lock-holder">${worker ? `${worker.hostname} pid ${worker.pid}` : 'a worker whose row is gone'} <code>${job.lockedBy ?? ''}</code>; lease until ${timestamp(job.leaseExpiresAt)}</span>`,
      )
    : ''
}
${row('retained until', job.deleteAfter ? timestamp(job.deleteAfter) : '—')}
</dl>`
}

function actions(ctx: PageContext, job: Job): Html {
  const returnTo = href(ctx, `/jobs/${job.id}`)
  const base = `/actions/jobs/${job.id}`
  return html`<div class="actions">
${job.state === 'failed' || job.state === 'cancelled' || job.state === 'expired' ? actionForm(ctx, { action: `${base}/retry`, label: 'Retry', testid: 'action-retry', confirm: `Retry job #${job.id}?`, returnTo }) : ''}
${job.state === 'available' || job.state === 'running' ? actionForm(ctx, { action: `${base}/cancel`, label: 'Cancel', testid: 'action-cancel', confirm: `Cancel job #${job.id}?`, returnTo }) : ''}
${job.state !== 'running' ? actionForm(ctx, { action: `${base}/delete`, label: 'Delete', testid: 'action-delete', confirm: `Delete job #${job.id}? This cannot be undone.`, returnTo: href(ctx, '/jobs'), danger: true }) : ''}
</div>`
}

/** The job detail page. */
export function jobDetailPage(ctx: PageContext, job: Job, worker: WorkerInfo | undefined): Html {
  const pct = progressPercent(job.progress)
  const showProgress = job.state === 'running' || job.progress !== null
  const body = html`<h1 data-testid="job-title">Job #${job.id} <small>${job.task}</small> ${stateBadge(job.state, 'job-state')}</h1>
${actions(ctx, job)}
${
  showProgress
    ? html`<p class="progress-line"><progress data-testid="progress-bar" data-progress max="100"${pct === null ? '' : html` value="${pct}"`}></progress> <span data-testid="progress-value" data-progress-value>${pct === null ? 'no progress reported' : `${pct} %`}</span></p>`
    : ''
}
${job.lastError && job.state !== 'succeeded' ? html`<p class="error" data-testid="last-error">${job.lastError}</p>` : ''}
<div class="columns">
<section><h2>Facts</h2>${facts(ctx, job, job.lockedBy ? workerOrUndefined(job, worker) : undefined)}</section>
<section><h2>Timeline</h2>${timeline(ctx, job)}<p class="hint">created ${ago(job.createdAt, ctx.now)}</p></section>
</div>
<section><h2>Payload</h2>${jsonBlock(job.payload, 'payload')}</section>
${job.state === 'succeeded' ? html`<section><h2>Result</h2>${jsonBlock(job.result, 'result')}</section>` : ''}
${job.progress !== null ? html`<section><h2>Progress report</h2>${jsonBlock(job.progress, 'progress')}</section>` : ''}`
  return layout(ctx, { title: `Job #${job.id}`, section: 'jobs', body, job: job.id, state: job.state })
}

function workerOrUndefined(job: Job, worker: WorkerInfo | undefined): WorkerInfo | undefined {
  return worker && worker.id === job.lockedBy ? worker : undefined
}
