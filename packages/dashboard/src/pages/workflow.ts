// One workflow: its state and policy, and every node (a job) in creation order with its task,
// queue, state, parents and last error, each linked to its job page.
//
// data-testid: workflow-title, workflow-state, workflow-facts, node-row, node-state, node-parents,
// node-error.
import type { WorkflowInfo } from '@pgq/core'
import { type Html, html } from '../http/html.js'
import { oneLine, timestamp } from './format.js'
import { href, layout, type PageContext, stateBadge } from './layout.js'

/** The last error message of a node, if its history has one. */
function lastError(errors: readonly unknown[]): string | null {
  const last = errors.at(-1) as { message?: unknown } | undefined
  return typeof last?.message === 'string' ? last.message : null
}

/** The workflow page. */
export function workflowPage(ctx: PageContext, wf: WorkflowInfo): Html {
  const counts = new Map<string, number>()
  for (const node of wf.nodes) counts.set(node.state, (counts.get(node.state) ?? 0) + 1)
  const position = new Map(wf.nodes.map((n, i) => [n.id, i + 1]))
  const outputs = new Set(wf.outputIds)
  const jobLink = (id: string) => html`<a href="${href(ctx, `/jobs/${id}`)}">#${id}</a>`
  const rows = wf.nodes.map((node, i) => {
    const error = node.state === 'succeeded' ? null : lastError(node.errors)
    return html`<tr data-testid="node-row" data-job-id="${node.id}">
<td>${String(i + 1)}</td><td>${jobLink(node.id)}</td><td>${node.task}${outputs.has(node.id) ? html` <small>(output)</small>` : ''}</td>
<td>${node.queue}</td><td>${stateBadge(node.state, 'node-state')}</td>
<td data-testid="node-parents">${node.parentIds.length === 0 ? '—' : node.parentIds.map((p, k) => html`${k > 0 ? ', ' : ''}${String(position.get(p) ?? '?')}`)}</td>
<td>${error ? html`<span class="error-text" data-testid="node-error">${oneLine(error)}</span>` : ''}</td>
</tr>`
  })
  const body = html`<h1 data-testid="workflow-title">Workflow #${wf.id}${wf.name ? html` <small>${wf.name}</small>` : ''} ${stateBadge(wf.state, 'workflow-state')}</h1>
<dl class="facts" data-testid="workflow-facts">
<dt>policy</dt><dd>${wf.policy === 'cancel' ? 'cancel (a node that fails for good cancels its dependants)' : 'continue (callbacks get a result or an error per member)'}</dd>
<dt>nodes</dt><dd>${String(wf.nodes.length)}: ${[...counts].map(([state, n], k) => html`${k > 0 ? ', ' : ''}${String(n)} ${state}`)}</dd>
<dt>created</dt><dd>${timestamp(wf.createdAt)}</dd>
<dt>cancelled</dt><dd>${wf.cancelledAt ? timestamp(wf.cancelledAt) : '—'}</dd>
</dl>
<p class="hint">A failed node's Retry (on its job page) resumes the graph: the nodes its failure cancelled run after it. <code>pgq jobs --workflow ${wf.id}</code> lists the same nodes.</p>
<table class="jobs">
<thead><tr><th>#</th><th>job</th><th>task</th><th>queue</th><th>state</th><th>after</th><th>last error</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
  return layout(ctx, { title: `Workflow #${wf.id}`, section: 'jobs', body })
}
