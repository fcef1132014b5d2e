// The overview: every queue with its live counts and lag, and the last hour's throughput and
// failures as charts.
//
// data-testid: total-<waiting|scheduled|running|failed>, total-lag, queue-row (data-queue=<name>),
// count-<waiting|scheduled|running|failed> and queue-lag inside a queue row, chart-throughput,
// chart-failures, total-expired (jobs expired in the last hour), action-redrive, action-queue-pause, action-queue-resume, queue-paused (a badge),
// queue-concurrency, queue-limits (rate and per-key limits).

import { type Html, html } from '../http/html.js'
import type { MinuteRow, QueueCountsRow } from '../sql/dashboard-queries.js'
import { barChart } from './charts.js'
import { count, duration } from './format.js'
import { actionForm, href, layout, type PageContext } from './layout.js'

const COUNTS = ['waiting', 'scheduled', 'running', 'failed'] as const

function queueRow(ctx: PageContext, q: QueueCountsRow): Html {
  const link = (state: string, value: number, column: string) =>
    html`<td class="num${column === 'failed' && value > 0 ? ' bad' : ''}" data-testid="count-${column}" data-count="${column}"><a href="${href(ctx, '/jobs', { queue: q.queue, state })}">${count(value)}</a></td>`
  return html`<tr data-testid="queue-row" data-queue="${q.queue}" data-nav-row>
<th scope="row"><a href="${href(ctx, '/jobs', { queue: q.queue })}">${q.queue}</a>${q.paused ? html` <span class="badge" data-testid="queue-paused">paused</span>` : ''}${q.concurrency === null ? '' : html`<br><small data-testid="queue-concurrency">at most ${count(q.concurrency)} running</small>`}${limitsNote(q)}</th>
${link('available', q.waiting, 'waiting')}${link('available', q.scheduled, 'scheduled')}${link('running', q.running, 'running')}${link('failed', q.failed, 'failed')}
<td class="num" data-testid="queue-lag" data-lag>${q.waiting > 0 ? duration(q.lag_ms) : '—'}</td>
<td class="actions">${pauseAction(ctx, q)}${
    q.failed > 0
      ? actionForm(ctx, {
          action: `/actions/queues/${encodeURIComponent(q.queue)}/redrive`,
          label: 'Retry failed',
          testid: 'action-redrive',
          confirm: `Retry all ${q.failed} failed jobs of queue ${q.queue}?`,
          returnTo: href(ctx, '/'),
        })
      : ''
  }</td>
</tr>`
}

/** The queue's rate and per-key limits in a line, or nothing (docs/flow-control.md). */
function limitsNote(q: QueueCountsRow): Html | string {
  const perInterval = (n: number, ms: number) => `${count(n)} per ${duration(ms)}`
  const parts: string[] = []
  if (q.rate_limit !== null && q.rate_interval_ms !== null)
    parts.push(`${perInterval(q.rate_limit, q.rate_interval_ms)}`)
  if (q.key_concurrency !== null)
    parts.push(`${count(q.key_concurrency)} per key${q.ordered ? ', in order' : ''}`)
  if (q.key_rate_limit !== null && q.key_rate_interval_ms !== null)
    parts.push(`${perInterval(q.key_rate_limit, q.key_rate_interval_ms)} per key`)
  return parts.length === 0 ? '' : html`<br><small data-testid="queue-limits">${parts.join(' · ')}</small>`
}

/** Pause or resume the queue (flow control: running jobs finish; a resume wakes the workers). */
function pauseAction(ctx: PageContext, q: QueueCountsRow): Html {
  const verb = q.paused ? 'resume' : 'pause'
  return actionForm(ctx, {
    action: `/actions/queues/${encodeURIComponent(q.queue)}/${verb}`,
    label: q.paused ? 'Resume' : 'Pause',
    testid: `action-queue-${verb}`,
    confirm: q.paused
      ? `Resume queue ${q.queue}?`
      : `Pause queue ${q.queue}? Running jobs finish; nothing new starts.`,
    returnTo: href(ctx, '/'),
  })
}

/** The overview page. */
export function overviewPage(
  ctx: PageContext,
  queues: readonly QueueCountsRow[],
  minutes: readonly MinuteRow[],
): Html {
  const total = (key: (typeof COUNTS)[number]) => queues.reduce((n, q) => n + q[key], 0)
  const lag = Math.max(0, ...queues.filter((q) => q.waiting > 0).map((q) => q.lag_ms))
  const labels = minutes.map((m) => m.minute.toISOString().slice(11, 16))
  const xAxis = [`-${minutes.length} min`, `-${Math.round(minutes.length / 2)} min`, 'now'] as const
  const finished = minutes.reduce((n, m) => n + m.succeeded + m.failed + m.cancelled + m.expired, 0)
  const expired = minutes.reduce((n, m) => n + m.expired, 0)
  const failed = minutes.reduce((n, m) => n + m.failed, 0)
  const rate = finished === 0 ? '—' : `${((failed / finished) * 100).toFixed(1)} %`
  const body = html`<h1>Overview</h1>
<section class="cards">
${COUNTS.map(
  (key) =>
    html`<div class="card card-${key}"><span class="label">${key}</span><span class="value" data-testid="total-${key}" data-total="${key}">${count(total(key))}</span></div>`,
)}
<div class="card"><span class="label">lag</span><span class="value" data-testid="total-lag" data-total-lag>${lag > 0 ? duration(lag) : '—'}</span></div>
</section>
<section>
<h2>Queues</h2>
${
  queues.length === 0
    ? html`<p class="empty">No queues yet: enqueue a job or start a worker.</p>`
    : html`<table class="list" data-testid="queues">
<thead><tr><th>Queue</th><th class="num">Waiting</th><th class="num">Scheduled</th><th class="num">Running</th><th class="num">Failed</th><th class="num">Lag</th><th></th></tr></thead>
<tbody>${queues.map((q) => queueRow(ctx, q))}</tbody>
</table>`
}
</section>
<section class="charts">
<h2>Last hour <small>${count(finished)} finished · <span data-testid="total-expired">${count(expired)}</span> expired · failure rate ${rate}</small></h2>
${barChart({
  title: 'Finished per minute',
  testid: 'chart-throughput',
  labels,
  xAxis,
  series: [
    { label: 'succeeded', className: 'bar-succeeded', values: minutes.map((m) => m.succeeded) },
    { label: 'cancelled', className: 'bar-cancelled', values: minutes.map((m) => m.cancelled) },
    { label: 'expired', className: 'bar-expired', values: minutes.map((m) => m.expired) },
    { label: 'failed', className: 'bar-failed', values: minutes.map((m) => m.failed) },
  ],
})}
${barChart({
  title: 'Failures per minute',
  testid: 'chart-failures',
  labels,
  xAxis,
  series: [{ label: 'failed', className: 'bar-failed', values: minutes.map((m) => m.failed) }],
})}
</section>`
  return layout(ctx, { title: 'Overview', section: 'overview', body })
}
