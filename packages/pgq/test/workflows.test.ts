// Workflows with an in-process worker: result passing along a chain, atomic creation, failure
// policies, cancel, and creation from SQL.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { schemaNames } from '../src/db/schema-names.js'
import { JobCancelledError } from '../src/errors.js'
import { rescueExpiredJobs } from '../src/sql/lease-queries.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import {
  chain,
  chord,
  chordSettled,
  type Flow,
  group,
  job,
  type MemberOutcome,
  step,
} from '../src/workflow/canvas.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let worker: Worker
const started: string[] = []

const add = defineTask<number, number>({ name: 'add', handler: async (n) => n + 1 })
const toText = defineTask<number, string>({ name: 'to_text', handler: async (n) => `n=${n}` })
const square = defineTask<{ n: number }, number>({ name: 'square', handler: async ({ n }) => n * n })
const sum = defineTask<number[], number>({
  name: 'sum',
  handler: async (ns) => ns.reduce((a, b) => a + b, 0),
})
const fail = defineTask<{ n: number }, number>({
  name: 'fail',
  maxAttempts: 1,
  handler: async () => {
    throw new Error('member broke')
  },
})
const settled = defineTask<MemberOutcome<number>[], string>({
  name: 'settled',
  handler: async (outcomes) =>
    outcomes.map((o) => (o.ok ? String(o.result) : `error:${o.error.message}`)).join(','),
})
const hold = defineTask<{ n: number }, number>({
  name: 'hold',
  handler: async ({ n }, ctx) => {
    started.push(`hold:${n}`)
    await new Promise<void>((_resolve, reject) => {
      ctx.signal.addEventListener(
        'abort',
        () => {
          started.push(`aborted:${n}`)
          reject(ctx.signal.reason)
        },
        { once: true },
      )
    })
    return n
  },
})
const after = defineTask<number, number>({
  name: 'after',
  handler: async (n) => {
    started.push(`after:${n}`)
    return n
  },
})

beforeAll(async () => {
  t = await createTestSchema()
  worker = t.pgq.createWorker({
    tasks: [add, toText, square, sum, fail, settled, hold, after],
    pollIntervalMs: 200,
    concurrency: 20,
  })
  await worker.start()
})
afterAll(async () => {
  await worker.stop()
  await t.pgq.close()
  await t.drop()
})

/** `task:state` of every node, from the SQL view, sorted. */
async function states(workflowId: string): Promise<string[]> {
  const { rows } = await t.pool.query<{ task: string; state: string }>(
    `SELECT task, state FROM "${t.schema}".workflow_jobs WHERE workflow_id = $1`,
    [workflowId],
  )
  return rows.map((r) => `${r.task}:${r.state}`).sort()
}

describe('types', () => {
  it('carry each result type into the next step and reject a mismatch at compile time', () => {
    const ok = chain(job(add, 1), step(toText))
    expectTypeOf(ok).toEqualTypeOf<Flow<void, string>>()
    expectTypeOf(chord(group(job(square, { n: 1 }), job(add, 2)), step(sum))).toEqualTypeOf<
      Flow<void, number>
    >()
    // @ts-expect-error square takes { n }, add returns a number
    chain(job(add, 1), step(square))
    // @ts-expect-error sum takes number[], toText returns a string
    chord(group(job(toText, 1)), step(sum))
  })
})

describe('composition and result passing', () => {
  it('a chain of 5 hands each result to the next step', async () => {
    const flow = chain(job(add, 1), add, step(add), add, step(toText))
    const wf = await t.pgq.workflows.create(flow)
    const result: string = await t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })
    expect(result).toBe('n=5')
    const info = await t.pgq.workflows.get(wf.id)
    expect(info?.state).toBe('succeeded')
    expect(info?.nodes.map((n) => n.result)).toEqual([2, 3, 4, 5, 'n=5'])
    expect(info?.nodes[1]?.parentIds).toEqual([info?.nodes[0]?.id])
  })

  it('a chord hands the callback the members results in member order; groups nest in chains', async () => {
    const members = [5, 1, 4, 2, 3].map((n) => job(square, { n }))
    const wf = await t.pgq.workflows.create(chord(group(...members), step(sum)))
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(25 + 1 + 16 + 4 + 9)
    const info = await t.pgq.workflows.get(wf.id)
    const callback = info!.nodes.at(-1)!
    const { rows } = await t.pool.query(`SELECT payload FROM "${t.schema}".jobs WHERE id = $1`, [callback.id])
    expect(rows[0].payload).toEqual([25, 1, 16, 4, 9])

    // a chain into a group of steps: each member receives the previous result; the result is the list
    const fan = await t.pgq.workflows.create(chain(job(add, 1), group(step(add), step(toText))))
    await expect(t.pgq.workflows.waitFor(fan.id, { timeoutMs: 10_000 })).resolves.toEqual([3, 'n=2'])
  })
})

describe('atomic creation', () => {
  it('rollback leaves no node; commit makes only the roots runnable', async () => {
    await worker.stop()
    try {
      const client = await t.client()
      await client.query('BEGIN')
      const gone = await t.pgq.workflows.create(
        chord(group(job(square, { n: 1 }), job(square, { n: 2 })), sum),
        {
          db: client,
        },
      )
      await client.query('ROLLBACK')
      const none = await t.pool.query(
        `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[])`,
        [gone.jobIds],
      )
      expect(none.rows[0].n).toBe(0)
      await expect(t.pgq.workflows.get(gone.id)).resolves.toBeUndefined()

      await client.query('BEGIN')
      const kept = await t.pgq.workflows.create(
        chord(group(job(square, { n: 1 }), job(square, { n: 2 })), sum),
        {
          db: client,
        },
      )
      // not visible before commit
      await expect(t.pgq.workflows.get(kept.id)).resolves.toBeUndefined()
      await client.query('COMMIT')
      expect(await states(kept.id)).toEqual(['square:available', 'square:available', 'sum:blocked'])
      // the nodes are jobs: listed by workflow (pgq jobs --workflow <id> --state blocked)
      const blocked = await t.pgq.jobs.list({ workflowId: kept.id, state: 'blocked' })
      expect(blocked.map((j) => j.task)).toEqual(['sum'])
      expect((await t.pgq.jobs.stats()).totals.blocked).toBeGreaterThanOrEqual(1)
    } finally {
      worker = t.pgq.createWorker({
        tasks: [add, toText, square, sum, fail, settled, hold, after],
        pollIntervalMs: 200,
        concurrency: 20,
      })
      await worker.start()
    }
  })
})

describe('failure policy', () => {
  it('by default a member that fails for good cancels its dependants', async () => {
    const wf = await t.pgq.workflows.create(
      chain(group(job(square, { n: 2 }), job(fail, { n: 0 })), step(sum), step(add)),
    )
    const error = await t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JobCancelledError)
    const info = await t.pgq.workflows.get(wf.id)
    expect(info?.state).toBe('failed')
    expect(info?.nodes.map((n) => n.state)).toEqual(['succeeded', 'failed', 'cancelled', 'cancelled'])
    expect(info?.nodes[2]?.errors).toEqual([expect.objectContaining({ name: 'DependencyFailedError' })])
  })

  it('with continue, the callback gets a result or an error in each member slot', async () => {
    const wf = await t.pgq.workflows.create(
      chordSettled(group(job(square, { n: 3 }), job(fail, { n: 0 }), job(square, { n: 4 })), step(settled)),
    )
    expect((await t.pgq.workflows.get(wf.id))?.policy).toBe('continue')
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(
      '9,error:member broke,16',
    )
  })
})

describe('cancelling one node', () => {
  it('pgq.jobs.cancel of a member counts it down like a failure: the callback is cancelled', async () => {
    const wf = await t.pgq.workflows.create(
      chord(group(job(square, { n: 2 }), job<number, number>('nobody_runs_this', 1)), step(sum)),
    )
    const info = await t.pgq.workflows.get(wf.id)
    const stuck = info!.nodes[1]!
    await expect(t.pgq.jobs.cancel(stuck.id)).resolves.toEqual({ cancelled: 1, cancelRequested: 0 })
    const after = await waitFor(async () => {
      const now = await t.pgq.workflows.get(wf.id)
      return now?.nodes.every((n) => ['succeeded', 'failed', 'cancelled'].includes(n.state)) ? now : undefined
    })
    expect(after.nodes.map((n) => n.state)).toEqual(['succeeded', 'cancelled', 'cancelled'])
  })
})

describe('the rescuer', () => {
  it('a node failed by the rescuer (interruption cap) cancels its dependants in the same statement', async () => {
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_chain('[{"task":"nobody_runs_this","payload":1,"max_interruptions":1},{"task":"add"}]')::text AS id`,
    )
    const wf = rows[0]!.id
    const info = await t.pgq.workflows.get(wf)
    const [first, second] = info!.nodes
    // as if a worker claimed it and died: running under a lease that expired
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'running', attempts = 1, locked_by = gen_random_uuid(),
         lease_token = gen_random_uuid(), lease_expires_at = now() - interval '1 second', started_at = now()
       WHERE id = $1`,
      [first!.id],
    )
    // (the in-process worker's own rescuer may get there first: either way one rescue fails it)
    await rescueExpiredJobs(t.pool, schemaNames(t.schema), { limit: 10, failedRetentionMs: null })
    const after = await waitFor(async () => {
      const now = await t.pgq.workflows.get(wf)
      return now?.nodes.every((n) => n.state !== 'running' && n.state !== 'blocked') ? now : undefined
    })
    expect(after?.nodes.map((n) => n.state)).toEqual(['failed', 'cancelled'])
    expect(after?.nodes[1]?.id).toBe(second!.id)
  })
})

describe('retention', () => {
  it('the pruner deletes a workflow once its nodes are pruned, with its nodes and edges rows', async () => {
    const wf = await t.pgq.workflows.create(chain(job(add, 1), step(add)))
    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(3)
    const s = `"${t.schema}"`
    await t.pool.query(`UPDATE ${s}.workflows SET created_at = now() - interval '1 hour' WHERE id = $1`, [
      wf.id,
    ])
    await t.pgq.prune()
    await expect(t.pgq.workflows.get(wf.id)).resolves.toBeDefined() // nodes still kept (retention)
    await t.pool.query(
      `UPDATE ${s}.jobs SET delete_after = now() - interval '1 second' WHERE workflow_id = $1`,
      [wf.id],
    )
    await t.pgq.prune()
    await expect(t.pgq.workflows.get(wf.id)).resolves.toBeUndefined()
    const left = await t.pool.query(
      `SELECT (SELECT count(*) FROM ${s}.workflow_nodes WHERE workflow_id = $1)::int AS nodes,
              (SELECT count(*) FROM ${s}.job_dependencies WHERE job_id = ANY($2::bigint[]))::int AS edges`,
      [wf.id, wf.jobIds],
    )
    expect(left.rows[0]).toEqual({ nodes: 0, edges: 0 })
  })
})

describe('cancel', () => {
  it('cancelling a running workflow aborts running nodes and starts no other node', async () => {
    const wf = await t.pgq.workflows.create(chain(job(hold, { n: 7 }), step(after), step(after)))
    await waitFor(() => started.includes('hold:7'), 10_000, 'the first node to start')
    await expect(t.pgq.workflows.cancel(wf.id)).resolves.toEqual({ cancelled: 2, cancelRequested: 1 })
    await waitFor(
      async () => (await t.pgq.workflows.get(wf.id))?.nodes.every((n) => n.state === 'cancelled'),
      10_000,
    )
    expect(started).toContain('aborted:7') // the running node's handler saw its signal abort
    expect(started.filter((s) => s.startsWith('after'))).toEqual([])
    expect((await t.pgq.workflows.get(wf.id))?.state).toBe('cancelled')
    await expect(t.pgq.workflows.cancel('999999')).resolves.toBeUndefined()
  })
})

describe('creation from SQL', () => {
  it('create_chain and create_group build the same graphs', async () => {
    const chainId = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_chain('[{"task":"add","payload":10},{"task":"add"},{"task":"to_text"}]')::text AS id`,
    )
    await expect(t.pgq.workflows.waitFor(chainId.rows[0]!.id, { timeoutMs: 10_000 })).resolves.toBe('n=12')
    const chordId = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_group('[{"task":"square","payload":{"n":2}},{"task":"square","payload":{"n":3}}]',
         '{"task":"sum"}')::text AS id`,
    )
    await expect(t.pgq.workflows.waitFor(chordId.rows[0]!.id, { timeoutMs: 10_000 })).resolves.toBe(13)
    const groupId = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_group('[{"task":"square","payload":{"n":5}}]')::text AS id`,
    )
    await expect(t.pgq.workflows.waitFor(groupId.rows[0]!.id, { timeoutMs: 10_000 })).resolves.toEqual([25])
    await expect(
      t.pool.query(`SELECT * FROM "${t.schema}".create_workflow('[{"task":"add","after":[0]}]')`),
    ).rejects.toThrow(/earlier nodes/)
  })
})
