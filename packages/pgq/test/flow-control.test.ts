// The claim under flow control (migration 0012), driven directly: concurrent claimers of a queue
// with a global limit never take more than it leaves free, the plain claim of a worker that has not
// heard of a limit takes nothing, and a paused queue gives nothing to either claim.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { schemaNames } from '../src/db/schema-names.js'
import { claimLimitedJobs as claimLimited } from '../src/sql/queue-queries.js'
import { claimJobs } from '../src/sql/worker-queries.js'
import { createTestSchema, type TestSchema } from './test-database.js'

const claimLimitedJobs = async (...args: Parameters<typeof claimLimited>) =>
  (await claimLimited(...args)).jobs

let t: TestSchema
const params = (limit: number) => ({
  queue: 'video',
  limit,
  workerId: '00000000-0000-4000-8000-000000000001',
  leaseMs: 60_000,
  tasks: ['encode'],
})
const running = async () =>
  (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state = 'running'`)).rows[0].n

beforeAll(async () => {
  t = await createTestSchema()
})
beforeEach(async () => {
  await t.pool.query(`TRUNCATE "${t.schema}".jobs; DELETE FROM "${t.schema}".queues`)
  await t.pgq.enqueueMany(
    Array.from({ length: 100 }, () => ({ task: 'encode', payload: {}, options: { queue: 'video' } })),
  )
})
afterAll(async () => {
  await t.drop()
})

describe('claim under flow control', () => {
  it('20 concurrent limited claims of a queue limited to 7 take exactly 7 jobs', async () => {
    const names = schemaNames(t.schema)
    await t.pgq.queues.set('video', { concurrency: 7 })
    const claims = await Promise.all(
      Array.from({ length: 20 }, () => claimLimitedJobs(t.pool, names, params(5))),
    )
    expect(claims.flat()).toHaveLength(7)
    expect(await running()).toBe(7)
    // a finished job frees one slot, and only one
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL, lease_token = NULL,
         lease_expires_at = NULL WHERE id = $1`,
      [claims.flat()[0]!.id],
    )
    expect(await claimLimitedJobs(t.pool, names, params(5))).toHaveLength(1)
  })

  it('the plain claim takes nothing from a limited or paused queue; a paused queue gives nothing at all', async () => {
    const names = schemaNames(t.schema)
    await t.pool.query(`INSERT INTO "${t.schema}".queues (name, concurrency) VALUES ('video', 50)`)
    expect(await claimJobs(t.pool, names, params(10))).toEqual([])
    await t.pool.query(`SELECT "${t.schema}".pause_queue('video')`)
    expect(await claimLimitedJobs(t.pool, names, params(10))).toEqual([])
    expect(await running()).toBe(0)
    await t.pgq.queues.resume('video')
    expect(await claimLimitedJobs(t.pool, names, params(10))).toHaveLength(10)
    await t.pgq.queues.set('video', { concurrency: null })
    expect(await claimJobs(t.pool, names, params(10))).toHaveLength(10) // the row limits nothing now
  })

  it('rate 10/s: a full bucket of 10 at once, then one token per 100 ms, and when the next is due', async () => {
    const names = schemaNames(t.schema)
    await t.pgq.queues.set('video', { rate: '10/s' })
    expect((await t.pgq.queues.get('video'))?.rate).toBe('10/s')
    const first = await claimLimited(t.pool, names, params(50))
    expect(first.jobs).toHaveLength(10) // the burst: one bucket
    expect(first.retryInMs).toBeGreaterThan(0)
    expect(first.retryInMs).toBeLessThanOrEqual(100)
    const empty = await claimLimited(t.pool, names, params(50))
    expect(empty.jobs).toHaveLength(0)
    expect(empty.retryInMs).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, empty.retryInMs! + 5)) // the documented wait
    const next = await claimLimited(t.pool, names, params(50))
    expect(next.jobs.length).toBeGreaterThanOrEqual(1)
    expect(next.jobs.length).toBeLessThanOrEqual(2)
    // 20 concurrent claimers after a long quiet spell share one bucket: 10 jobs, plus the tokens
    // refilled while they ran (one per 100 ms)
    await t.pool.query(
      `UPDATE "${t.schema}".queues SET tokens = 0, tokens_at = clock_timestamp() - interval '5 s'`,
    )
    const started = performance.now()
    const all = await Promise.all(
      Array.from({ length: 20 }, () => claimLimitedJobs(t.pool, names, params(5))),
    )
    const elapsedMs = performance.now() - started
    expect(all.flat().length).toBeGreaterThanOrEqual(10)
    expect(all.flat().length).toBeLessThanOrEqual(10 + Math.ceil(elapsedMs / 100))
    // rate and concurrency together: the smaller allowance wins
    await t.pgq.queues.set('video', { rate: null, concurrency: 30 })
    expect((await t.pgq.queues.get('video'))?.rate).toBeNull()
  })

  it('validation: zero, negative, fractional or unknown limits throw and write nothing', async () => {
    for (const bad of [0, -1, 1.5, '3', Number.NaN]) {
      await expect(t.pgq.queues.set('video', { concurrency: bad as number })).rejects.toMatchObject({
        code: 'PGQ_INVALID_INPUT',
        path: 'limits.concurrency',
      })
    }
    await expect(t.pgq.queues.set('video', { concurency: 3 } as never)).rejects.toMatchObject({
      path: 'limits.concurency',
    })
    for (const bad of ['0/s', '-1/s', '10/', '10 per second', '10/x', '10/0s', '/s', '10/2d', 10]) {
      await expect(t.pgq.queues.set('video', { rate: bad as string })).rejects.toMatchObject({
        code: 'PGQ_INVALID_INPUT',
        path: 'limits.rate',
      })
    }
    await expect(t.pgq.queues.pause('no spaces')).rejects.toMatchObject({ path: 'queue' })
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".queues`)).rows[0].n).toBe(0)
    // the table refuses what the API refuses, for writes from SQL
    await expect(
      t.pool.query(`INSERT INTO "${t.schema}".queues (name, concurrency) VALUES ('video', 0)`),
    ).rejects.toThrow(/queues_concurrency_check/)
  })
})
