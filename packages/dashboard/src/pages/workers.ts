// Workers: every live worker (the worker_status view decides) and the ones gone in the last hour.
//
// data-testid: worker-row (data-worker-id=<uuid>), worker-running, gone-workers.

import type { WorkerInfo } from '@pgq/core'
import { type Html, html } from '../http/html.js'
import { ago, timestamp } from './format.js'
import { href, layout, type PageContext } from './layout.js'

/** A worker that stopped or died recently (see workers.ts in the dashboard: a hook, empty for now). */
/** The workers page. */
export function workersPage(
  ctx: PageContext,
  live: readonly WorkerInfo[],
  gone: readonly WorkerInfo[],
): Html {
  const rows = live.map(
    (w) => html`<tr data-testid="worker-row" data-worker-id="${w.id}" data-nav-row>
<th scope="row">${w.hostname}<br><small><code>${w.id}</code></small></th>
<td class="num">${w.pid}</td>
<td>${w.queues.map((q) => html`<a class="tag" href="${href(ctx, '/jobs', { queue: q })}">${q}</a> `)}</td>
<td class="num">${w.concurrency}</td>
<td class="num" data-testid="worker-running"><a href="${href(ctx, '/jobs', { state: 'running' })}">${w.runningJobs}</a></td>
<td title="${timestamp(w.startedAt)}">${ago(w.startedAt, ctx.now)}</td>
<td title="${timestamp(w.heartbeatAt)}">${ago(w.heartbeatAt, ctx.now)}</td>
</tr>`,
  )
  const body = html`<h1>Workers</h1>
${
  live.length === 0
    ? html`<p class="empty">No live worker (none sent a heartbeat within 3 of its intervals).</p>`
    : html`<table class="list" data-testid="workers">
<thead><tr><th>Host</th><th class="num">Pid</th><th>Queues</th><th class="num">Concurrency</th><th class="num">Running now</th><th>Started</th><th>Heartbeat</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
<section data-testid="gone-workers"><h2>Gone in the last hour</h2>${
    gone.length === 0
      ? html`<p class="empty">None recorded.</p>`
      : html`<table class="list"><thead><tr><th>Host</th><th class="num">Pid</th><th>Queues</th><th>Started</th><th>Gone</th><th>Why</th></tr></thead><tbody>${gone.map(
          (g) =>
            html`<tr><th scope="row">${g.hostname}</th><td class="num">${g.pid}</td><td>${g.queues.join(', ')}</td><td>${timestamp(g.startedAt)}</td><td title="${timestamp(g.stoppedAt ?? g.heartbeatAt)}">${ago(g.stoppedAt ?? g.heartbeatAt, ctx.now)}</td><td>${g.status === 'stopped' ? 'stopped' : 'lost (heartbeat went stale)'}</td></tr>`,
        )}</tbody></table>`
  }</section>`
  return layout(ctx, { title: 'Workers', section: 'workers', body })
}
