import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PermanentError, snooze } from '../src/task/job-outcome.js'
import { defineTask } from '../src/task/task.js'
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

function start(worker: Worker): Promise<Worker> {
  workers.push(worker)
  return worker.start().then(() => worker)
}

async function job(id: string) {
  return (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
}

async function states(): Promise<Record<string, number>> {
  const rows = await t.pool.query(`SELECT state, count(*)::int AS n FROM "${t.schema}".jobs GROUP BY state`)
  return Object.fromEntries(rows.rows.map((r) => [r.state, r.n]))
}

describe('Worker', () => {
  it('runs jobs and stores their results', async () => {
    const double = defineTask({ name: 'double', handler: async (p: { n: number }) => ({ doubled: p.n * 2 }) })
    await start(t.pgq.createWorker({ tasks: [double], pollIntervalMs: 5_000 }))
    const enqueued = await t.pgq.enqueueMany(
      Array.from({ length: 50 }, (_, n) => ({ task: double, payload: { n } })),
    )
    await waitFor(async () => (await states()).succeeded === 50, 10_000, '50 succeeded')
    const row = await job(enqueued[7]!.id)
    expect(row.result).toEqual({ doubled: 14 })
    expect(row.attempts).toBe(1)
    expect(row.finished_at).toBeInstanceOf(Date)
    expect(row.locked_by).toBeNull()
    const keepFor = (row.delete_after.getTime() - row.finished_at.getTime()) / 3_600_000
    expect(keepFor).toBeCloseTo(24, 3)
  })

  it('is woken by NOTIFY, not by its poll', async () => {
    const noop = defineTask({ name: 'noop', handler: async () => null })
    const worker = await start(t.pgq.createWorker({ tasks: [noop], pollIntervalMs: 60_000 }))
    await waitFor(() => worker.heldJobs === 0, 2_000, 'idle')
    const { id } = await t.pgq.enqueue(noop, {})
    await waitFor(async () => (await job(id)).state === 'succeeded', 5_000, 'job run without a poll')
  })

  it('starts a delayed job at its time without waiting for a poll', async () => {
    const noop = defineTask({ name: 'noop', handler: async () => null })
    await start(t.pgq.createWorker({ tasks: [noop], pollIntervalMs: 60_000 }))
    const { id } = await t.pgq.enqueue(noop, {}, { delayMs: 700 })
    await waitFor(async () => (await job(id)).state === 'succeeded', 5_000, 'delayed job run')
    const row = await job(id)
    expect(row.started_at.getTime()).toBeGreaterThanOrEqual(row.run_at.getTime())
  })

  it('routes by queue and runs higher priority first', async () => {
    const order: number[] = []
    const email = defineTask({
      name: 'email',
      queue: 'emails',
      handler: async (p: { n: number }) => void order.push(p.n),
    })
    const report = defineTask({ name: 'report', queue: 'reports', handler: async () => null })
    await t.pgq.enqueueMany([
      ...[1, 5, 3, 9, 7].map((n) => ({ task: email, payload: { n }, options: { priority: n } })),
      { task: report, payload: { n: 0 } },
    ])
    await start(t.pgq.createWorker({ tasks: [email, report], queues: { emails: 1 }, pollIntervalMs: 50 }))
    await waitFor(() => order.length === 5, 5_000, 'emails done')
    expect(order).toEqual([9, 7, 5, 3, 1])
    const reportRow = (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE task = 'report'`))
      .rows[0]
    expect(reportRow.state).toBe('available') // this worker is on `emails` only
  })

  it('retries with backoff: fails twice, then succeeds with 3 attempts and 2 recorded errors', async () => {
    const flaky = defineTask({
      name: 'flaky',
      retry: { baseDelayMs: 300, jitter: 0 },
      handler: async (_p: object, ctx) => {
        if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`)
        return 'ok'
      },
    })
    await start(t.pgq.createWorker({ tasks: [flaky], pollIntervalMs: 5_000 }))
    const { id } = await t.pgq.enqueue(flaky, {})
    await waitFor(async () => (await job(id)).state === 'succeeded', 10_000, 'succeeded after retries')
    const row = await job(id)
    expect(row.attempts).toBe(3)
    expect(row.result).toBe('ok')
    expect(row.errors.map((e: { message: string; attempt: number }) => [e.attempt, e.message])).toEqual([
      [1, 'boom 1'],
      [2, 'boom 2'],
    ])
    const [first, second] = row.errors.map((e: { at: string }) => new Date(e.at).getTime())
    // attempt 2 ran ≥ 300 ms after error 1, attempt 3 ≥ 600 ms after error 2 (exponential)
    expect(second - first).toBeGreaterThanOrEqual(300)
    expect(row.started_at.getTime() - second).toBeGreaterThanOrEqual(590)
  })

  it('fails for good after max attempts, on PermanentError, and when retryOn says no', async () => {
    const always = defineTask({
      name: 'always',
      maxAttempts: 2,
      retry: { baseDelayMs: 10 },
      handler: async () => {
        throw new Error('nope')
      },
    })
    const permanent = defineTask({
      name: 'permanent',
      handler: async () => {
        throw new PermanentError('bad input')
      },
    })
    const picky = defineTask({
      name: 'picky',
      retry: { retryOn: (e) => !(e instanceof TypeError) },
      handler: async () => {
        throw new TypeError('typo')
      },
    })
    await start(t.pgq.createWorker({ tasks: [always, permanent, picky], pollIntervalMs: 50 }))
    const ids = await t.pgq.enqueueMany([
      { task: always, payload: {} },
      { task: permanent, payload: {} },
      { task: picky, payload: {} },
    ])
    await waitFor(async () => (await states()).failed === 3, 10_000, 'three failed')
    expect((await job(ids[0]!.id)).attempts).toBe(2)
    expect((await job(ids[1]!.id)).attempts).toBe(1)
    expect((await job(ids[1]!.id)).errors[0].name).toBe('PermanentError')
    expect((await job(ids[2]!.id)).attempts).toBe(1)
  })

  it('snooze runs the job again later without spending an attempt', async () => {
    let runs = 0
    const patient = defineTask({
      name: 'patient',
      handler: async () => {
        runs += 1
        return runs === 1 ? snooze(200) : 'done'
      },
    })
    await start(t.pgq.createWorker({ tasks: [patient], pollIntervalMs: 5_000 }))
    const { id } = await t.pgq.enqueue(patient, {})
    await waitFor(async () => (await job(id)).state === 'succeeded', 5_000, 'succeeded after snooze')
    expect(runs).toBe(2)
    expect((await job(id)).attempts).toBe(1)
  })

  it('soft time limit aborts the signal; the hard limit fails a handler that ignores it and frees the slot', async () => {
    let sawAbort = false
    const stubborn = defineTask({
      name: 'stubborn',
      maxAttempts: 1,
      timeoutMs: 100,
      hardTimeoutGraceMs: 100,
      handler: async (_p: object, ctx) => {
        ctx.signal.addEventListener('abort', () => {
          sawAbort = true
        })
        await new Promise(() => {}) // ignores its signal forever
      },
    })
    const quick = defineTask({ name: 'quick', handler: async () => 'quick' })
    await start(t.pgq.createWorker({ tasks: [stubborn, quick], concurrency: 1, pollIntervalMs: 50 }))
    const a = await t.pgq.enqueue(stubborn, {})
    await waitFor(async () => (await job(a.id)).state === 'failed', 5_000, 'hard limit')
    expect(sawAbort).toBe(true)
    expect((await job(a.id)).errors[0].message).toMatch(/hard time limit/)
    const b = await t.pgq.enqueue(quick, {})
    await waitFor(async () => (await job(b.id)).state === 'succeeded', 5_000, 'slot reused')
  })

  it('a handler that respects its soft limit is retried per policy with a timeout error', async () => {
    const slow = defineTask({
      name: 'slow',
      maxAttempts: 1,
      timeoutMs: 50,
      handler: (_p: object, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    })
    await start(t.pgq.createWorker({ tasks: [slow], pollIntervalMs: 50 }))
    const { id } = await t.pgq.enqueue(slow, {})
    await waitFor(async () => (await job(id)).state === 'failed', 5_000, 'timed out')
    expect((await job(id)).errors[0].message).toBe('timed out after 50 ms')
  })

  it('emits job:progress for every report and stores the last value', async () => {
    const steps = defineTask({
      name: 'steps',
      handler: async (_p: object, ctx) => {
        for (const value of [0, 50, 100]) await ctx.progress(value, { step: value })
        return 'done'
      },
    })
    const worker = await start(t.pgq.createWorker({ tasks: [steps], pollIntervalMs: 5_000 }))
    const seen: (number | null)[] = []
    worker.on('job:progress', ({ value }) => seen.push(value))
    const { id } = await t.pgq.enqueue(steps, {})
    await waitFor(async () => (await job(id)).state === 'succeeded', 5_000, 'done')
    expect(seen).toEqual([0, 50, 100])
    expect((await job(id)).progress).toMatchObject({ value: 100, meta: { step: 100 } })
  })

  it('refuses to start on an unmigrated schema', async () => {
    const empty = await createTestSchema({ migrate: false })
    try {
      const worker = empty.pgq.createWorker({ tasks: [defineTask({ name: 'x', handler: () => null })] })
      await expect(worker.start()).rejects.toThrow(/pgq migrate/)
    } finally {
      await empty.drop()
    }
  })

  it('rejects bad worker options with typed errors', () => {
    const x = defineTask({ name: 'x', handler: () => null })
    expect(() => t.pgq.createWorker({ tasks: [] })).toThrow(/worker.tasks/)
    expect(() => t.pgq.createWorker({ tasks: [x, x] })).toThrow(/duplicate task/)
    expect(() => t.pgq.createWorker({ tasks: [x], queues: { 'bad queue': 1 } })).toThrow(/worker.queues/)
    expect(() => t.pgq.createWorker({ tasks: [x], concurrency: 0 })).toThrow(/worker.concurrency/)
    expect(() => t.pgq.createWorker({ tasks: [x], bogus: 1 } as never)).toThrow(
      /worker.bogus: unknown option/,
    )
  })
})

describe('dead-letter queue', () => {
  it('moves a job that fails for good to the task’s dead-letter queue, from where it can be redriven', async () => {
    let fail = true
    const fragile = defineTask({
      name: 'fragile',
      queue: 'imports',
      maxAttempts: 1,
      deadLetterQueue: 'imports.dead',
      handler: async () => {
        if (fail) throw new Error('upstream is down')
        return 'imported'
      },
    })
    await start(t.pgq.createWorker({ tasks: [fragile], queues: ['imports'], pollIntervalMs: 50 }))
    const { id } = await t.pgq.enqueue(fragile, {})
    await waitFor(async () => (await job(id)).state === 'failed', 5_000, 'failed')
    expect((await job(id)).queue).toBe('imports.dead')
    fail = false
    await t.pgq.jobs.retry({ queue: 'imports.dead' }, { queue: 'imports' })
    await waitFor(async () => (await job(id)).state === 'succeeded', 5_000, 'redriven')
    expect((await job(id)).result).toBe('imported')
  })
})

describe('claiming ahead (prefetch)', () => {
  it('claims fast jobs ahead, and releases the ones not started on stop without spending an attempt', async () => {
    const fast = defineTask({ name: 'fast', handler: async () => null })
    const worker = await start(t.pgq.createWorker({ tasks: [fast], concurrency: 2, pollIntervalMs: 60_000 }))
    let claimedAhead = 0
    await t.pgq.enqueueMany(Array.from({ length: 5000 }, () => ({ task: fast, payload: {} })))
    await waitFor(
      async () => {
        claimedAhead = Math.max(claimedAhead, worker.heldJobs - 2)
        return ((await states()).succeeded ?? 0) >= 500
      },
      20_000,
      '500 done',
    )
    await worker.stop({ graceMs: 1_000 })
    expect(claimedAhead).toBeGreaterThan(0) // more held than running: claimed ahead
    const after = await states()
    expect(after.running ?? 0).toBe(0) // nothing left behind under a lease
    expect((after.available ?? 0) + after.succeeded!).toBe(5000)
    const spent = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state = 'available' AND attempts > 0`,
    )
    expect(spent.rows[0].n).toBe(0)
  })

  it('never claims slow jobs ahead: two workers share them', async () => {
    const ranBy: string[] = []
    const slowish = defineTask({
      name: 'slowish',
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 300))
      },
    })
    const a = await start(t.pgq.createWorker({ tasks: [slowish], concurrency: 1, pollIntervalMs: 100 }))
    const b = await start(t.pgq.createWorker({ tasks: [slowish], concurrency: 1, pollIntervalMs: 100 }))
    a.on('job:start', () => ranBy.push('a'))
    b.on('job:start', () => ranBy.push('b'))
    await t.pgq.enqueueMany(Array.from({ length: 6 }, () => ({ task: slowish, payload: {} })))
    await waitFor(async () => (await states()).succeeded === 6, 15_000, 'six done')
    expect(ranBy.filter((w) => w === 'a').length).toBeGreaterThanOrEqual(2)
    expect(ranBy.filter((w) => w === 'b').length).toBeGreaterThanOrEqual(2)
  })
})

describe('under load', () => {
  it('heartbeat, completer and claims share rows without deadlocks (locks taken in id order)', async () => {
    const jittery = defineTask({
      name: 'jittery',
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
      },
    })
    // a heartbeat every 50 ms renews hundreds of held jobs while the completer finishes them
    const worker = await start(
      t.pgq.createWorker({
        tasks: [jittery],
        concurrency: 200,
        leaseMs: 600,
        heartbeatMs: 50,
        pollIntervalMs: 100,
      }),
    )
    const errors: string[] = []
    worker.on('worker:error', ({ error }) => errors.push(error.message))
    await t.pgq.enqueueMany(Array.from({ length: 15_000 }, () => ({ task: jittery, payload: {} })))
    await waitFor(async () => (await states()).succeeded === 15_000, 60_000, '15,000 done')
    expect(errors).toEqual([])
  })
})
