import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ResultWaiter } from '../src/client/result-waiter.js'
import {
  JobCancelledError,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  JobTimeoutError,
  PgqValidationError,
} from '../src/errors.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import {
  markCancelled,
  markFailed,
  markRunning,
  markSucceeded,
  seedJobs,
  setProgress,
} from './worker-simulation.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'wait-for-jobs.mjs')

let t: TestSchema
let waiter: ResultWaiter

beforeAll(async () => {
  t = await createTestSchema()
  // A poll slower than any test: these waits must be woken by NOTIFY.
  waiter = new ResultWaiter({ pool: t.pool, schema: t.schema, pollIntervalMs: 600_000, idleMs: 600_000 })
})
afterAll(async () => {
  await waiter.close()
  await t.drop()
})

/** Backends LISTENing on this schema's events channel (their last statement was the LISTEN). */
async function listeners(): Promise<number> {
  const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`, [
    `LISTEN "${t.schema}:events"`,
  ])
  return rows[0].n
}

describe('ResultWaiter in one process', () => {
  it('resolves with the result when the job succeeds, woken by NOTIFY', async () => {
    const [id] = await seedJobs(t, 1)
    const waiting = waiter.wait(id!)
    await waitFor(async () => (await listeners()) === 1, 5_000, 'LISTEN')
    await markRunning(t, id!)
    await markSucceeded(t, id!, { rows: 3 })
    await expect(waiting).resolves.toEqual({ rows: 3 })
  })

  it('rejects with JobFailedError carrying the error history, and with JobCancelledError', async () => {
    const [failed, cancelled] = await seedJobs(t, 2)
    const waits = [waiter.wait(failed!), waiter.wait(cancelled!)].map((w) => w.catch((e: unknown) => e))
    await markFailed(t, failed!, ['timeout talking to S3', 'S3 503'])
    await markCancelled(t, cancelled!)
    const error = await waits[0]
    expect(error).toBeInstanceOf(JobFailedError)
    expect(error).toMatchObject({ jobId: failed, task: 'work', code: 'PGQ_JOB_FAILED' })
    expect((error as JobFailedError).errors.map((e) => e.message)).toEqual([
      'timeout talking to S3',
      'S3 503',
    ])
    expect((error as Error).message).toBe(`job ${failed} (work) failed: S3 503 (2 error(s) recorded)`)
    expect(await waits[1]).toBeInstanceOf(JobCancelledError)
  })

  it('settles at once for a job that already finished, and rejects for a missing job', async () => {
    const [id] = await seedJobs(t, 1)
    await markSucceeded(t, id!, 'done')
    await expect(waiter.wait(id!)).resolves.toBe('done')
    await expect(waiter.wait('987654321')).rejects.toBeInstanceOf(JobNotFoundError)
  })

  it('a wait that begins while a read is in flight is settled by a read of its own, not by the older row', async () => {
    // the job expired; a first wait's read of it is held after it returns, the job is retried,
    // a second wait begins: the held row (expired) settles the first wait only
    const [id] = await seedJobs(t, 1)
    await t.pool.query(`UPDATE "${t.schema}".jobs SET state = 'expired', finished_at = now() WHERE id = $1`, [
      id,
    ])
    const pool = new pg.Pool({ connectionString: t.url, max: 2 })
    const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>
    let release!: () => void
    let gate: Promise<void> | undefined = new Promise<void>((resolve) => {
      release = resolve
    })
    let held!: () => void
    const reading = new Promise<void>((resolve) => {
      held = resolve
    })
    pool.query = (async (text: string, values?: unknown[]) => {
      const result = await query(text, values)
      const wait = gate
      if (wait && text.includes('AS errors')) {
        gate = undefined
        held()
        await wait
      }
      return result
    }) as unknown as typeof pool.query
    const gated = new ResultWaiter({ pool, schema: t.schema, pollIntervalMs: 600_000, idleMs: 600_000 })
    try {
      const first = gated.wait(id!).catch((error: unknown) => error)
      await reading
      await expect(t.pgq.jobs.retry(id!)).resolves.toEqual({ retried: 1 })
      const second = gated.wait(id!)
      release()
      expect(await first).toBeInstanceOf(JobExpiredError)
      await markRunning(t, id!)
      await markSucceeded(t, id!, 'ran after the retry')
      await expect(second).resolves.toBe('ran after the retry')
    } finally {
      await gated.close()
      await pool.end()
    }
  })

  it('times out with JobTimeoutError naming the last state, and stops on abort', async () => {
    const [id] = await seedJobs(t, 1)
    await markRunning(t, id!)
    const error = await waiter.wait(id!, { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JobTimeoutError)
    expect(error).toMatchObject({ jobId: id, timeoutMs: 300, state: 'running' })
    const controller = new AbortController()
    const aborted = waiter.wait(id!, { signal: controller.signal })
    controller.abort(new Error('client went away'))
    await expect(aborted).rejects.toThrow('client went away')
    expect(waiter.size).toBe(0)
    expect(() => waiter.wait('x')).toThrow(PgqValidationError)
  })

  it('reports progress while the job runs', async () => {
    const [id] = await seedJobs(t, 1)
    await markRunning(t, id!)
    const seen: unknown[] = []
    const waiting = waiter.wait(id!, { onProgress: (p) => seen.push(p) })
    await waitFor(async () => (await listeners()) === 1, 5_000, 'LISTEN')
    await setProgress(t, id!, { pct: 10 })
    await waitFor(() => seen.length === 1, 5_000, 'first progress')
    await setProgress(t, id!, { pct: 60 })
    await waitFor(() => seen.length === 2, 5_000, 'second progress')
    await markSucceeded(t, id!, null)
    await waiting
    expect(seen).toEqual([{ pct: 10 }, { pct: 60 }])
  })

  it('shares one LISTEN connection among many waiters, and falls back to polling without NOTIFY', async () => {
    const polling = new ResultWaiter({ pool: t.pool, schema: t.schema, pollIntervalMs: 100 })
    const ids = await seedJobs(t, 20)
    const waits = ids.map((id) => polling.wait(id))
    // The shared waiter of this file keeps its connection open; 20 waits here add exactly one.
    await waitFor(async () => (await listeners()) === 2, 5_000, 'LISTEN')
    // Finish them without any NOTIFY: only the poll can see it.
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'succeeded', result = to_jsonb(id), finished_at = now() WHERE id = ANY($1::bigint[])`,
      [ids],
    )
    expect(await Promise.all(waits)).toEqual(ids.map(Number))
    await polling.close()
  })
})

describe('ResultWaiter when its connection dies', () => {
  it('reconnects, catches up on what finished meanwhile, and is woken by NOTIFY again', async () => {
    const lonely = new ResultWaiter({ pool: t.pool, schema: t.schema, pollIntervalMs: 600_000 })
    const [during, after] = await seedJobs(t, 2)
    const waits = [lonely.wait(during!), lonely.wait(after!)]
    await waitFor(async () => (await listeners()) === 2, 5_000, 'LISTEN')
    // Kill the backend LISTENing for `lonely` (the file's shared waiter connected first, so it is not the newest).
    await t.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1
       ORDER BY backend_start DESC LIMIT 1`,
      [`LISTEN "${t.schema}:events"`],
    )
    await waitFor(async () => (await listeners()) === 1, 5_000, 'backend gone')
    await markSucceeded(t, during!, 'finished while disconnected')
    await waitFor(async () => (await listeners()) === 2, 10_000, 'LISTEN again')
    await markSucceeded(t, after!, 'finished after the reconnect')
    expect(await Promise.all(waits)).toEqual(['finished while disconnected', 'finished after the reconnect'])
    await lonely.close()
  })
})

function waitInChild(ids: string[]): Promise<{ id: string; ok: boolean; result?: unknown; name?: string }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, t.url, t.schema, ...ids], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`)),
    )
  })
}

describe('ResultWaiter across processes', () => {
  it('another process awaiting by id is woken on success, failure and cancel', async () => {
    const [ok, bad, gone] = await seedJobs(t, 3)
    const before = await listeners()
    const child = waitInChild([ok!, bad!, gone!])
    await waitFor(async () => (await listeners()) > before, 10_000, 'child LISTEN')
    await markRunning(t, ok!)
    await markSucceeded(t, ok!, { answer: 42 })
    await markFailed(t, bad!, ['boom'])
    await markCancelled(t, gone!)
    const outcomes = await child
    expect(outcomes).toEqual([
      { id: ok, ok: true, result: { answer: 42 } },
      expect.objectContaining({
        id: bad,
        ok: false,
        name: 'JobFailedError',
        errors: [expect.objectContaining({ message: 'boom' })],
      }),
      expect.objectContaining({ id: gone, ok: false, name: 'JobCancelledError' }),
    ])
  })
})

describe('ResultWaiter with a real worker', () => {
  it('is woken by the batched `finished:<id>,<id>,…` a worker sends for many outcomes at once', async () => {
    const { defineTask } = await import('../src/task/task.js')
    const square = defineTask({ name: 'square', handler: async (p: { n: number }) => p.n * p.n })
    const jobs = await t.pgq.enqueueMany(
      Array.from({ length: 20 }, (_, n) => ({ task: square, payload: { n } })),
    )
    // the waiter polls every 10 minutes: once it listens, only notifications can settle these in time
    const results = Promise.all(jobs.map((j) => waiter.wait(j.id, { timeoutMs: 10_000 })))
    await waitFor(async () => (await listeners()) >= 1, 5_000, 'LISTEN')
    const worker = t.pgq.createWorker({ tasks: [square], concurrency: 20, pollIntervalMs: 60_000 })
    await worker.start()
    try {
      expect(await results).toEqual(Array.from({ length: 20 }, (_, n) => n * n))
    } finally {
      await worker.stop()
    }
  })
})
