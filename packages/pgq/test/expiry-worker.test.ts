// Deadlines with a real worker: a job whose deadline passed while it waited is never run (the claim
// skips it even before the expirer ends it), the worker's expirer ends it `expired` and says so,
// and a retry runs it.
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { JobExpiredError } from '../src/errors.js'
import { collectWorkerMetrics } from '../src/metrics.js'
import { defineTask } from '../src/task/task.js'
import type { WorkerEventMap } from '../src/worker/events.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import { jobRow } from './worker-simulation.js'

let t: TestSchema
const workers: Worker[] = []
const ran: string[] = []

const deliver = defineTask<{ n: number }, string>({
  name: 'deliver',
  queue: 'timely',
  handler: async ({ n }, ctx) => {
    ran.push(ctx.jobId)
    return `delivered ${n}`
  },
})

beforeAll(async () => {
  t = await createTestSchema()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`TRUNCATE "${t.schema}".jobs CASCADE`)
  await t.pgq.queues.resume('timely')
  ran.length = 0
})
afterAll(async () => {
  await t.pgq.close()
  await t.drop()
})

async function start(worker: Worker): Promise<Worker> {
  workers.push(worker)
  await worker.start()
  return worker
}

/** Enqueues one job through enqueue_many with the given JSON fields; returns its id. */
async function enqueueSql(fields: Record<string, unknown>): Promise<string> {
  const { rows } = await t.pool.query<{ id: string }>(
    `SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb)`,
    [JSON.stringify([{ task: 'deliver', queue: 'timely', ...fields }])],
  )
  return rows[0]!.id
}

/** Polls until the database clock is past the job's deadline. */
async function deadlinePassed(id: string): Promise<void> {
  await waitFor(
    async () =>
      (await t.pool.query(`SELECT expires_at < now() AS past FROM "${t.schema}".jobs WHERE id = $1`, [id]))
        .rows[0]?.past,
    5_000,
    'the deadline to pass',
  )
}

describe('a worker and job deadlines', () => {
  it('never runs a job whose deadline passed while its queue was paused, even before it is expired; a retry runs it', async () => {
    // the expirer runs once at start, then not within the test: the claim alone must skip the job
    await start(t.pgq.createWorker({ tasks: [deliver], pollIntervalMs: 50, expireIntervalMs: 600_000 }))
    await t.pgq.queues.pause('timely')
    const late = await enqueueSql({ payload: { n: 1 }, expire_in_ms: 50 })
    await deadlinePassed(late)
    await t.pgq.queues.resume('timely')
    // a later job of the same queue: claimed after the late one would have been (run_at, id order)
    const control = await enqueueSql({ payload: { n: 2 } })
    await expect(t.pgq.jobs.waitFor(control, { timeoutMs: 10_000 })).resolves.toBe('delivered 2')
    expect(ran).toEqual([control])
    expect(await jobRow(t, late)).toMatchObject({ state: 'available', attempts: 0, started_at: null })

    // the worker's own expirer ends it (a second worker's expirer, run at its start)
    const expired: WorkerEventMap['maintenance:expired'][] = []
    const second = t.pgq.createWorker({ tasks: [deliver], pollIntervalMs: 50 })
    second.on('maintenance:expired', (e) => expired.push(e))
    await start(second)
    await expect(t.pgq.jobs.waitFor(late, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(JobExpiredError)
    await waitFor(() => expired.length > 0, 5_000, 'the maintenance:expired event')
    expect(expired).toEqual([{ expired: 1, byQueue: { timely: 1 } }])
    expect(ran).toEqual([control])

    // a retry clears the deadline: the job runs now
    await expect(t.pgq.jobs.retry(late)).resolves.toEqual({ retried: 1 })
    await expect(t.pgq.jobs.waitFor(late, { timeoutMs: 10_000 })).resolves.toBe('delivered 1')
    expect(ran).toEqual([control, late])
    expect(await jobRow(t, late)).toMatchObject({ state: 'succeeded', expires_at: null, attempts: 1 })
  })

  it("the worker's expirer ends an overdue waiting job on its interval (counted in pgq_jobs_expired_total), and a job due in time runs", async () => {
    const worker = await start(
      t.pgq.createWorker({ tasks: [deliver], pollIntervalMs: 50, expireIntervalMs: 50 }),
    )
    const expired: WorkerEventMap['maintenance:expired'][] = []
    worker.on('maintenance:expired', (e) => expired.push(e))
    const registry = new Registry()
    collectWorkerMetrics(worker, { registry })
    await t.pgq.queues.pause('timely')
    const late = await enqueueSql({ payload: { n: 3 }, expire_in_ms: 50 })
    const timely = await enqueueSql({ payload: { n: 4 }, expire_in_ms: 3_600_000 })
    await expect(t.pgq.jobs.waitFor(late, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(JobExpiredError)
    // the waiter may hear of the expiry before the expirer's statement has returned to the worker
    await waitFor(() => expired.length > 0, 5_000, 'the maintenance:expired event')
    expect(expired).toEqual([{ expired: 1, byQueue: { timely: 1 } }])
    expect(await registry.metrics()).toContain('pgq_jobs_expired_total{queue="timely"} 1')
    await t.pgq.queues.resume('timely')
    await expect(t.pgq.jobs.waitFor(timely, { timeoutMs: 10_000 })).resolves.toBe('delivered 4')
    expect(ran).toEqual([timely])
    expect(await jobRow(t, late)).toMatchObject({ state: 'expired', started_at: null })
  })

  it('validates expireIntervalMs and retention.expired', () => {
    expect(() => t.pgq.createWorker({ tasks: [deliver], expireIntervalMs: 0 })).toThrow(
      /worker.expireIntervalMs/,
    )
    expect(() => t.pgq.createWorker({ tasks: [deliver], retention: { expired: -1 } })).toThrow(
      /worker.retention.expired/,
    )
    expect(
      t.pgq.createWorker({ tasks: [deliver], retention: { expired: null } }).config.retention.expired,
    ).toBe(null)
  })
})
