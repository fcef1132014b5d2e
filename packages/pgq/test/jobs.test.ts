import type pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Jobs } from '../src/admin/jobs.js'
import { PgqValidationError } from '../src/errors.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import {
  jobRow,
  markCancelled,
  markFailed,
  markRunning,
  markSucceeded,
  seedJobs,
  setProgress,
} from './worker-simulation.js'

let t: TestSchema
let jobs: Jobs
let listener: pg.Client
const heard: string[] = []

beforeAll(async () => {
  t = await createTestSchema()
  jobs = new Jobs({ pool: t.pool, schema: t.schema, batchSize: 7 })
  listener = await t.client()
  listener.on('notification', (n) => heard.push(`${n.channel}|${n.payload}`))
  await listener.query(`LISTEN "${t.schema}:events"`)
  await listener.query(`LISTEN "${t.schema}:jobs"`)
})
afterAll(async () => {
  await jobs.close()
  await t.drop()
})
beforeEach(async () => {
  await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
  heard.length = 0
})

describe('get and list', () => {
  it('get returns payload, result, progress, errors and timestamps; undefined for a missing id', async () => {
    const [id] = await seedJobs(t, 1, { payload: () => ({ video: 7 }) })
    await markRunning(t, id!)
    await setProgress(t, id!, { pct: 50, meta: { step: 'encode' } })
    expect((await jobs.get(id!))?.progress).toEqual({ pct: 50, meta: { step: 'encode' } })
    await markSucceeded(t, id!, { url: 'https://x/7.mp4' })
    const job = await jobs.get(id!)
    expect(job).toMatchObject({
      id,
      task: 'work',
      queue: 'default',
      state: 'succeeded',
      payload: { video: 7 },
      result: { url: 'https://x/7.mp4' },
      attempts: 1,
      errors: [],
      lastError: null,
    })
    expect(job?.finishedAt).toBeInstanceOf(Date)
    expect(job!.deleteAfter!.getTime()).toBeGreaterThan(job!.finishedAt!.getTime())
    expect(await jobs.get('999999999')).toBeUndefined()
    await expect(jobs.get('1; drop')).rejects.toThrow(PgqValidationError)
  })

  it('list filters by state, task and queue, pages newest first, and never returns payloads', async () => {
    const a = await seedJobs(t, 5, { task: 'a', queue: 'q1' })
    const b = await seedJobs(t, 3, { task: 'b', queue: 'q2' })
    await markFailed(t, b[0]!, ['boom 1', 'boom 2'])
    expect((await jobs.list({ task: 'a' })).map((j) => j.id)).toEqual([...a].reverse())
    expect((await jobs.list({ queue: ['q2'], state: 'available' })).map((j) => j.id)).toEqual([b[2], b[1]])
    const [failed] = await jobs.list({ state: 'failed' })
    expect(failed).toMatchObject({ id: b[0], lastError: 'boom 2', attempts: 2 })
    expect(failed).not.toHaveProperty('payload')
    expect(failed).not.toHaveProperty('result')
    const page1 = await jobs.list({ limit: 3 })
    const page2 = await jobs.list({ limit: 3, beforeId: page1.at(-1)!.id })
    expect([...page1, ...page2].map((j) => j.id)).toEqual([...a, ...b].reverse().slice(0, 6))
  })

  it('rejects bad filters with a typed error naming the value', async () => {
    await expect(jobs.list({ state: 'done' as never })).rejects.toThrow(/filter.state: must be one of/)
    await expect(jobs.list({ queue: 'bad queue' })).rejects.toThrow(/filter.queue/)
    await expect(jobs.list({ limit: 0 })).rejects.toThrow(/filter.limit/)
    await expect(jobs.list({ nope: 1 } as never)).rejects.toThrow(/filter.nope: unknown filter/)
    await expect(jobs.retry({ state: 'running' })).rejects.toThrow(/retry applies to failed, cancelled/)
  })
})

describe('cancel', () => {
  it('finalizes a waiting job at once and announces it as finished', async () => {
    const [id] = await seedJobs(t, 1)
    expect(await jobs.cancel(id!)).toEqual({ cancelled: 1, cancelRequested: 0 })
    const row = await jobRow(t, id!)
    expect(row).toMatchObject({ state: 'cancelled' })
    const retention = (row!.delete_after as Date).getTime() - (row!.finished_at as Date).getTime()
    expect(retention).toBe(7 * 24 * 3600 * 1000)
    await waitFor(() => heard.includes(`${t.schema}:events|finished:${id}`), 5_000, 'finished notify')
  })

  it('asks the worker of a running job to stop: cancel_requested_at + cancel:<id>, state unchanged', async () => {
    const [id] = await seedJobs(t, 1)
    await markRunning(t, id!)
    expect(await jobs.cancel(id!)).toEqual({ cancelled: 0, cancelRequested: 1 })
    const row = await jobRow(t, id!)
    expect(row).toMatchObject({ state: 'running' })
    expect(row!.cancel_requested_at).toBeInstanceOf(Date)
    await waitFor(() => heard.includes(`${t.schema}:events|cancel:${id}`), 5_000, 'cancel notify')
  })

  it('leaves finished jobs alone and cancels by filter in batches', async () => {
    const ids = await seedJobs(t, 20, { task: 'bulk' })
    await markSucceeded(t, ids[0]!, 1)
    await markRunning(t, ids[1]!)
    const other = await seedJobs(t, 2, { task: 'other' })
    expect(await jobs.cancel({ task: 'bulk' })).toEqual({ cancelled: 18, cancelRequested: 1 })
    expect((await jobRow(t, ids[0]!))!.state).toBe('succeeded')
    expect((await jobs.list({ task: 'other', state: 'available' })).map((j) => j.id).sort()).toEqual(
      other.sort(),
    )
    expect(await jobs.cancel(ids[0]!)).toEqual({ cancelled: 0, cancelRequested: 0 })
  })

  it('a job claimed while cancel waited for its row lock is asked to stop, not marked cancelled', async () => {
    const [id] = await seedJobs(t, 1)
    const claimer = await t.client()
    await claimer.query('BEGIN')
    await claimer.query(
      `UPDATE "${t.schema}".jobs SET state = 'running', locked_by = gen_random_uuid(), lease_token = gen_random_uuid(),
         lease_expires_at = now() + interval '30 seconds', attempts = 1 WHERE id = $1`,
      [id],
    )
    const cancelling = jobs.cancel(id!)
    await waitFor(
      async () =>
        (
          await t.pool.query(
            `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
             WHERE NOT l.granted AND a.query LIKE '%target AS%' AND a.query LIKE $1`,
            [`%"${t.schema}".jobs%`],
          )
        ).rowCount,
      5_000,
      'cancel blocked on the claim',
    )
    await claimer.query('COMMIT')
    expect(await cancelling).toEqual({ cancelled: 0, cancelRequested: 1 })
    expect((await jobRow(t, id!))!.state).toBe('running')
  })
})

describe('retry and delete', () => {
  it('puts failed and cancelled jobs back, resets attempts, keeps the error history, wakes the queue', async () => {
    const [failed, cancelled, done] = await seedJobs(t, 3, { queue: 'mail' })
    await markFailed(t, failed!, ['smtp down', 'smtp still down'])
    await markCancelled(t, cancelled!)
    await markSucceeded(t, done!, null)
    heard.length = 0
    expect(await jobs.retry({})).toEqual({ retried: 2 })
    const row = await jobRow(t, failed!)
    expect(row).toMatchObject({ state: 'available', attempts: 0, finished_at: null, delete_after: null })
    expect((row!.errors as unknown[]).length).toBe(2)
    expect((await jobRow(t, done!))!.state).toBe('succeeded')
    await waitFor(() => heard.includes(`${t.schema}:jobs|mail`), 5_000, 'queue wake-up')
    expect(await jobs.retry(failed!)).toEqual({ retried: 0 })
  })

  it('retries many by task in batches and can move them to another queue', async () => {
    const ids = await seedJobs(t, 16, { task: 'flaky', queue: 'dead' })
    for (const id of ids) await markFailed(t, id, ['nope'])
    expect(await jobs.retry({ task: 'flaky', state: 'failed' }, { queue: 'default' })).toEqual({
      retried: 16,
    })
    expect((await jobs.list({ queue: 'default', state: 'available' })).length).toBe(16)
  })

  it('skips a job whose dedup key is held by a live job', async () => {
    const first = await t.pgq.enqueue('unique', {}, { dedupKey: 'k' })
    await markFailed(t, first.id, ['x'])
    const second = await t.pgq.enqueue('unique', {}, { dedupKey: 'k' })
    expect(second.deduplicated).toBe(false)
    expect(await jobs.retry(first.id)).toEqual({ retried: 0 })
    await markSucceeded(t, second.id, 1)
    expect(await jobs.retry(first.id)).toEqual({ retried: 1 })
  })

  it('deletes finished jobs by default, waiting ones only when asked, running ones never', async () => {
    const [a, b, c] = await seedJobs(t, 3)
    await markFailed(t, a!, ['x'])
    await markRunning(t, c!)
    expect(await jobs.delete({})).toEqual({ deleted: 1 })
    expect(await jobs.delete({ state: 'available' })).toEqual({ deleted: 1 })
    expect(await jobRow(t, b!)).toBeUndefined()
    expect(await jobs.delete(c!)).toEqual({ deleted: 0 })
    await expect(jobs.delete({ state: 'running' })).rejects.toThrow(/delete applies to/)
  })
})

describe('stats and views', () => {
  it('counts per queue and state, lag of the oldest due job, and recent throughput', async () => {
    const mail = await seedJobs(t, 4, { queue: 'mail' })
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET run_at = now() - interval '90 seconds', created_at = now() - interval '90 seconds' WHERE id = $1`,
      [mail[0]],
    )
    await markRunning(t, mail[1]!)
    await markSucceeded(t, mail[2]!, 1)
    await markFailed(t, mail[3]!, ['x'])
    await t.pgq.enqueue('later', {}, { queue: 'reports', delayMs: 3_600_000 })
    const stats = await jobs.stats({ windowMinutes: 5 })
    const q = stats.queues.find((s) => s.queue === 'mail')!
    expect(q).toMatchObject({ waiting: 1, scheduled: 0, running: 1, succeeded: 1, failed: 1, cancelled: 0 })
    expect(q.lagMs).toBeGreaterThanOrEqual(89_000)
    expect(q.recent).toEqual({ succeeded: 1, failed: 1, cancelled: 0, expired: 0 })
    expect(q.throughputPerMinute).toBe(0.4)
    expect(stats.queues.find((s) => s.queue === 'reports')).toMatchObject({
      scheduled: 1,
      waiting: 0,
      lagMs: 0,
    })
    expect(stats.totals).toMatchObject({ waiting: 1, scheduled: 1, running: 1 })

    const s = `"${t.schema}"`
    const counts = await t.pool.query(`SELECT queue, state, jobs::int FROM ${s}.job_counts ORDER BY 1, 2`)
    expect(counts.rows).toContainEqual({ queue: 'reports', state: 'scheduled', jobs: 1 })
    expect(counts.rows).toContainEqual({ queue: 'mail', state: 'waiting', jobs: 1 })
    const lag = await t.pool.query(
      `SELECT extract(epoch FROM lag)::int AS lag FROM ${s}.queue_lag WHERE queue = 'mail'`,
    )
    expect(lag.rows[0].lag).toBeGreaterThanOrEqual(89)
    const failing = await t.pool.query(`SELECT task, failed::int, last_error FROM ${s}.failing_tasks`)
    expect(failing.rows).toEqual([{ task: 'work', failed: 1, last_error: 'x' }])
    const workerId = '00000000-0000-4000-8000-000000000001'
    await t.pool.query(
      `INSERT INTO ${s}.workers (id, hostname, pid, queues, concurrency) VALUES ($1, 'box-1', 4242, '{mail}', 5)`,
      [workerId],
    )
    const [running] = await seedJobs(t, 1, { queue: 'mail' })
    await markRunning(t, running!, workerId)
    const view = await t.pool.query(
      `SELECT id::text, worker_hostname, worker_pid, lease_remaining > interval '0' AS leased FROM ${s}.running_jobs ORDER BY id`,
    )
    expect(view.rows).toContainEqual({
      id: running,
      worker_hostname: 'box-1',
      worker_pid: 4242,
      leased: true,
    })
  })
})
