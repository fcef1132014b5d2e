// Retrying a workflow node that failed for good resumes the graph: the dependants its failure
// cancelled go back to blocked and run with its result; user cancellations stay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobCancelledError, WorkflowRetryRefusedError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { chain, chord, group, job, step } from '../src/workflow/canvas.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let worker: Worker
/** The keys a `flaky` job fails on until the test "fixes the condition" by deleting them. */
const broken = new Set<string>()
/** How often each callback ran, by payload. */
const callbackRuns: string[] = []

const add = defineTask<number, number>({ name: 'add', handler: async (n) => n + 1 })
const flaky = defineTask<number, number>({
  name: 'flaky',
  maxAttempts: 1,
  handler: async (n) => {
    if (broken.has(`flaky:${n}`)) throw new Error(`flaky ${n} is broken`)
    return n * 10
  },
})
const square = defineTask<{ n: number }, number>({
  name: 'square',
  maxAttempts: 1,
  handler: async ({ n }) => {
    if (broken.has(`square:${n}`)) throw new Error(`square ${n} is broken`)
    return n * n
  },
})
/** Members of the concurrent test wait here until the test opens the gate. */
let openGate: () => void = () => {}
const gate = new Promise<void>((resolve) => {
  openGate = resolve
})
const gated = defineTask<{ n: number }, number>({
  name: 'gated',
  handler: async ({ n }) => {
    await gate
    return n * n
  },
})
const collect = defineTask<number[], number[]>({
  name: 'collect',
  handler: async (ns) => {
    callbackRuns.push(JSON.stringify(ns))
    return ns
  },
})

beforeAll(async () => {
  t = await createTestSchema()
  worker = t.pgq.createWorker({
    tasks: [add, flaky, square, gated, collect],
    pollIntervalMs: 200,
    concurrency: 10,
  })
  await worker.start()
})
afterAll(async () => {
  await worker.stop()
  await t.pgq.close()
  await t.drop()
})

const FINAL = ['succeeded', 'failed', 'cancelled']

/** Waits until every node of the workflow is final, and returns it. */
async function settledWorkflow(id: string) {
  return waitFor(async () => {
    const wf = await t.pgq.workflows.get(id)
    return wf?.nodes.every((n) => FINAL.includes(n.state)) ? wf : undefined
  }, 10_000)
}

describe('retry of a failed node resumes the graph', () => {
  it('a chain a -> b -> c whose b failed: retried after the fix, c runs with b result', async () => {
    broken.add('flaky:2')
    const wf = await t.pgq.workflows.create(chain(job(add, 1), step(flaky), step(add)))
    const failed = await t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 }).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(JobCancelledError)
    const before = await settledWorkflow(wf.id)
    expect(before.state).toBe('failed')
    expect(before.nodes.map((n) => n.state)).toEqual(['succeeded', 'failed', 'cancelled'])
    const [a, b, c] = before.nodes

    broken.delete('flaky:2')
    await expect(t.pgq.jobs.retry(b!.id)).resolves.toEqual({ retried: 1 })
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(21)

    const after = await t.pgq.workflows.get(wf.id)
    expect(after?.state).toBe('succeeded')
    expect(after?.nodes.map((n) => [n.id, n.state, n.result])).toEqual([
      [a!.id, 'succeeded', 2],
      [b!.id, 'succeeded', 20],
      [c!.id, 'succeeded', 21],
    ])
    // b keeps its error history; c's DependencyFailedError is taken back (it ran, it was not failed)
    expect(after?.nodes[1]?.errors).toEqual([expect.objectContaining({ message: 'flaky 2 is broken' })])
    expect(after?.nodes[2]?.errors).toEqual([])
    const { rows } = await t.pool.query(
      `SELECT pending, failed FROM "${t.schema}".workflow_nodes WHERE job_id = ANY($1::bigint[]) ORDER BY job_id`,
      [[b!.id, c!.id]],
    )
    expect(rows).toEqual([
      { pending: 0, failed: 0 },
      { pending: 0, failed: 0 },
    ])
  })

  it('a failed root cancels a whole chain; its retry revives every later step', async () => {
    broken.add('flaky:5')
    const wf = await t.pgq.workflows.create(chain(job(flaky, 5), step(add), step(add), step(add)))
    const before = await settledWorkflow(wf.id)
    expect(before.nodes.map((n) => n.state)).toEqual(['failed', 'cancelled', 'cancelled', 'cancelled'])
    broken.delete('flaky:5')
    await t.pgq.jobs.retry(before.nodes[0]!.id)
    // the workflow is running again before the root has even run
    expect((await t.pgq.workflows.get(wf.id))?.state).not.toBe('failed')
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(53)
  })

  it('a chord whose member failed (default policy): retried, the callback runs once with all results', async () => {
    broken.add('square:3')
    const members = [1, 2, 3, 4].map((n) => job(square, { n }))
    const wf = await t.pgq.workflows.create(chord(group(...members), step(collect)))
    const before = await settledWorkflow(wf.id)
    expect(before.state).toBe('failed')
    expect(before.nodes.map((n) => n.state)).toEqual([
      'succeeded',
      'succeeded',
      'failed',
      'succeeded',
      'cancelled',
    ])
    expect((await t.pgq.jobs.stats()).totals.blocked).toBe(0)

    broken.delete('square:3')
    // through a filter, as `pgq retry --workflow <id> --state failed` does
    await expect(t.pgq.jobs.retry({ workflowId: wf.id, state: 'failed' })).resolves.toEqual({ retried: 1 })
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toEqual([1, 4, 9, 16])
    expect(callbackRuns.filter((r) => r === '[1,4,9,16]')).toHaveLength(1)
    expect((await t.pgq.workflows.get(wf.id))?.state).toBe('succeeded')
  })

  it('a member retried while the other members are still finishing: the callback runs once', async () => {
    broken.add('square:1000')
    const ns = Array.from({ length: 300 }, (_, i) => 1000 + i)
    // the failing member first (priority); the others hold every slot until the gate opens
    const members = ns.map((n, i) => (i === 0 ? job(square, { n }, { priority: 100 }) : job(gated, { n })))
    const wf = await t.pgq.workflows.create(chord(group(...members), step(collect)))
    const first = wf.jobIds[0]!
    await waitFor(async () => (await t.pgq.jobs.get(first))?.state === 'failed', 10_000)
    // the callback was cancelled by the failure while most members are still waiting or running
    const callbackId = wf.jobIds.at(-1)!
    expect((await t.pgq.jobs.get(callbackId))?.state).toBe('cancelled')
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE workflow_id = $1 AND state IN ('available', 'running')`,
      [wf.id],
    )
    expect(rows[0]!.n).toBeGreaterThan(0)
    broken.delete('square:1000')
    // the other members finish while the retry runs
    openGate()
    await expect(t.pgq.jobs.retry(first)).resolves.toEqual({ retried: 1 })
    const expected = ns.map((n) => n * n)
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 20_000 })).resolves.toEqual(expected)
    expect(callbackRuns.filter((r) => r === JSON.stringify(expected))).toHaveLength(1)
    const counter = await t.pool.query(
      `SELECT pending, failed FROM "${t.schema}".workflow_nodes WHERE job_id = $1`,
      [callbackId],
    )
    expect(counter.rows).toEqual([{ pending: 0, failed: 0 }])
  })

  it('a callback with two failed members stays cancelled until both are retried', async () => {
    broken.add('square:11')
    broken.add('square:12')
    const wf = await t.pgq.workflows.create(
      chord(group(job(square, { n: 10 }), job(square, { n: 11 }), job(square, { n: 12 })), step(collect)),
    )
    const before = await settledWorkflow(wf.id)
    const [, m11, m12, callback] = before.nodes
    broken.delete('square:11')
    await t.pgq.jobs.retry(m11!.id)
    await waitFor(async () => (await t.pgq.jobs.get(m11!.id))?.state === 'succeeded', 10_000)
    expect((await t.pgq.jobs.get(callback!.id))?.state).toBe('cancelled')
    expect((await t.pgq.workflows.get(wf.id))?.state).toBe('failed')

    broken.delete('square:12')
    await t.pgq.jobs.retry(m12!.id)
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toEqual([100, 121, 144])
    expect(callbackRuns.filter((r) => r === '[100,121,144]')).toHaveLength(1)
  })

  it('a node cancelled by a user is not revived by the retry of another node', async () => {
    broken.add('square:21')
    // m22 has no worker for its task: it waits until the user cancels it
    const wf = await t.pgq.workflows.create(
      chord(
        group(job(square, { n: 21 }), job<{ n: number }, number>('nobody_runs_this', { n: 22 })),
        step(collect),
      ),
    )
    await waitFor(async () => (await t.pgq.jobs.get(wf.jobIds[0]!))?.state === 'failed', 10_000)
    await t.pgq.jobs.cancel(wf.jobIds[1]!)
    broken.delete('square:21')
    await t.pgq.jobs.retry(wf.jobIds[0]!)
    await waitFor(async () => (await t.pgq.jobs.get(wf.jobIds[0]!))?.state === 'succeeded', 10_000)
    const after = await t.pgq.workflows.get(wf.id)
    // the user's cancel still counts as a failed parent: the callback stays cancelled
    expect(after?.nodes.map((n) => n.state)).toEqual(['succeeded', 'cancelled', 'cancelled'])
    expect(after?.state).toBe('failed')
  })

  it('a dependant cannot be retried on its own while its parent is failed: retry the parent', async () => {
    broken.add('flaky:7')
    const wf = await t.pgq.workflows.create(chain(job(flaky, 7), step(add)))
    const before = await settledWorkflow(wf.id)
    const error = await t.pgq.jobs.retry(before.nodes[1]!.id).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WorkflowRetryRefusedError)
    expect(error).toMatchObject({
      reason: 'parent_failed',
      workflowId: wf.id,
      code: 'PGQ_WORKFLOW_RETRY_REFUSED',
    })
    // a filter skips it and retries the parent, which brings the dependant back
    broken.delete('flaky:7')
    await expect(t.pgq.jobs.retry({ workflowId: wf.id, state: ['failed', 'cancelled'] })).resolves.toEqual({
      retried: 1,
    })
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(71)
  })
})

describe('retry in a workflow cancelled by the user', () => {
  it('is refused for one node and skipped by a filter: nothing is revived', async () => {
    const wf = await t.pgq.workflows.create(
      chain(job<number, number>('nobody_runs_this', 1), step(add), step(add)),
    )
    await expect(t.pgq.workflows.cancel(wf.id)).resolves.toEqual({ cancelled: 3, cancelRequested: 0 })
    const error = await t.pgq.jobs.retry(wf.jobIds[0]!).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WorkflowRetryRefusedError)
    expect(error).toMatchObject({ reason: 'workflow_cancelled', jobId: wf.jobIds[0] })
    await expect(t.pgq.jobs.retry({ workflowId: wf.id })).resolves.toEqual({ retried: 0 })
    const after = await t.pgq.workflows.get(wf.id)
    expect(after?.state).toBe('cancelled')
    expect(after?.nodes.map((n) => n.state)).toEqual(['cancelled', 'cancelled', 'cancelled'])
    // plain jobs are retried as before
    const plain = await t.pgq.enqueue('nobody_runs_this', {})
    await t.pgq.jobs.cancel(plain.id)
    await expect(t.pgq.jobs.retry(plain.id)).resolves.toEqual({ retried: 1 })
    expect((await t.pgq.jobs.get(plain.id))?.state).toBe('available')
  })
})
