import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defineTask } from '../src/task/task.js'
import type { WorkerEventMap } from '../src/worker/events.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
const workers: Worker[] = []

beforeAll(async () => {
  t = await createTestSchema()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
})
afterAll(async () => {
  await t.drop()
})

async function start(worker: Worker): Promise<Worker> {
  workers.push(worker)
  await worker.start()
  return worker
}

/** A task whose runs wait until the test lets them finish. */
function gatedTask(name: string) {
  const started: string[] = []
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const task = defineTask({
    name,
    handler: async (_p: unknown, ctx) => {
      started.push(ctx.jobId)
      await gate
      return 'done'
    },
  })
  return { task, started, open: () => open() }
}

function recordEvents(worker: Worker) {
  const events: { name: keyof WorkerEventMap; payload: unknown }[] = []
  for (const name of ['job:succeeded', 'job:failed', 'job:retry', 'job:lease-lost'] as const)
    worker.on(name, (payload) => events.push({ name, payload }))
  return events
}

async function stealLease(id: string): Promise<void> {
  await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [id])
}

describe('events tell the truth', () => {
  it('no job:succeeded for an outcome the database refused: job:lease-lost with reason outcome-fenced', async () => {
    const { task, started, open } = gatedTask('gated_fenced')
    // no heartbeat within the test: the refused write is what finds out
    const worker = await start(t.pgq.createWorker({ tasks: [task], leaseMs: 60_000, heartbeatMs: 50_000 }))
    const events = recordEvents(worker)
    const { id } = await t.pgq.enqueue(task, {})
    await waitFor(() => started.includes(id), 5_000, 'handler started')
    await stealLease(id)
    open()
    await waitFor(() => events.length > 0, 5_000, 'an event')
    await waitFor(() => worker.heldJobs === 0, 5_000, 'job no longer held')
    expect(events.map((e) => e.name)).toEqual(['job:lease-lost'])
    expect(events[0]!.payload).toMatchObject({ job: { id }, reason: 'outcome-fenced' })
    const row = (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
    expect(row.state).toBe('running') // the write was refused
  })

  it('a lease the heartbeat cannot renew: job:lease-lost with reason renewal-refused, the handler aborted, nothing else', async () => {
    let aborted = false
    const started: string[] = []
    const task = defineTask({
      name: 'gated_renewal',
      handler: async (_p: unknown, ctx) => {
        started.push(ctx.jobId)
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()))
        aborted = true
        return 'finished anyway'
      },
    })
    const worker = await start(t.pgq.createWorker({ tasks: [task], leaseMs: 3_000, heartbeatMs: 100 }))
    const events = recordEvents(worker)
    const { id } = await t.pgq.enqueue(task, {})
    await waitFor(() => started.includes(id), 5_000, 'handler started')
    await stealLease(id)
    await waitFor(() => events.length > 0 && aborted, 5_000, 'lease lost and handler aborted')
    await waitFor(() => worker.heldJobs === 0, 5_000, 'job no longer held')
    expect(events.map((e) => e.name)).toEqual(['job:lease-lost'])
    expect(events[0]!.payload).toMatchObject({ job: { id }, reason: 'renewal-refused' })
  })

  it('job:succeeded fires after the write: the row is already succeeded when the listener runs', async () => {
    const task = defineTask({ name: 'quick', handler: async () => 1 })
    const worker = await start(t.pgq.createWorker({ tasks: [task] }))
    const seen: Promise<string>[] = []
    worker.on('job:succeeded', ({ job }) => {
      seen.push(
        t.pool
          .query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [job.id])
          .then((r) => r.rows[0].state),
      )
    })
    await t.pgq.enqueueMany(Array.from({ length: 20 }, () => ({ task, payload: {} })))
    await waitFor(() => seen.length === 20, 10_000, 'twenty successes')
    expect(new Set(await Promise.all(seen))).toEqual(new Set(['succeeded']))
  })
})

describe('claim-ahead', () => {
  it('right after a burst of fast jobs, an idle worker does not claim slow jobs ahead: three workers share them', async () => {
    const fast = defineTask({ name: 'fast', handler: async () => {} })
    const slow = defineTask({
      name: 'slow',
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_500))
      },
    })
    const options = { concurrency: 10, pollIntervalMs: 200 }
    // only `a` runs the fast burst, so only `a` has a high measured rate
    const a = await start(t.pgq.createWorker({ tasks: [fast, slow], ...options }))
    const b = await start(t.pgq.createWorker({ tasks: [slow], ...options }))
    const c = await start(t.pgq.createWorker({ tasks: [slow], ...options }))
    let lastEnd = performance.now()
    a.on('job:end', () => {
      lastEnd = performance.now()
    })
    await t.pgq.enqueueMany(Array.from({ length: 3_000 }, () => ({ task: fast, payload: {} })))
    await waitFor(
      async () =>
        (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state = 'succeeded'`))
          .rows[0].n === 3_000,
      30_000,
      'burst done',
    )
    // The rule under test: after an idle spell longer than the prefetch window (50 ms by default),
    // the burst's run times are forgotten. Slow jobs enqueued sooner than that are, by design, taken
    // for more of the burst (a worker cannot know they are slow): on a fast machine the burst's last
    // write and this enqueue can fall within the window, so wait until `a` has been idle past it.
    await waitFor(() => performance.now() - lastEnd > 100, 5_000, 'a idle past the prefetch window')
    await t.pgq.enqueueMany(Array.from({ length: 20 }, () => ({ task: slow, payload: {} })))
    // every slow job is claimed at once (30 free slots for 20 jobs); none may wait in a buffer
    const held = await waitFor(
      async () => {
        const { rows } = await t.pool.query(
          `SELECT locked_by::text AS w, count(*)::int AS n FROM "${t.schema}".jobs
           WHERE task = 'slow' AND state = 'running' GROUP BY locked_by`,
        )
        const total = rows.reduce((sum: number, r: { n: number }) => sum + r.n, 0)
        return total === 20
          ? new Map<string, number>(rows.map((r: { w: string; n: number }) => [r.w, r.n]))
          : null
      },
      5_000,
      'all twenty slow jobs claimed',
    )
    for (const worker of [a, b, c]) expect(held?.get(worker.id) ?? 0).toBeLessThanOrEqual(10)
    // and so the batch takes one slow job's time, not two
    const startedAt = Date.now()
    await waitFor(
      async () =>
        (
          await t.pool.query(
            `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE task = 'slow' AND state = 'succeeded'`,
          )
        ).rows[0].n === 20,
      10_000,
      'slow jobs done',
    )
    expect(Date.now() - startedAt).toBeLessThan(2_500)
  })
})
