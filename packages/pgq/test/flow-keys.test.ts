// Per-key flow control (migration 0014), driven through the claim itself: a key's limit holds under
// concurrent claimers, keys take turns, an ordered key runs in enqueue order, deadlines keep late
// jobs from starting; and the enqueue side: where a job's key comes from, singletons, bad input.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { schemaNames } from '../src/db/schema-names.js'
import { claimLimitedJobs, pruneKeyBuckets } from '../src/sql/queue-queries.js'
import { registerTasks } from '../src/sql/task-queries.js'
import { claimJobs } from '../src/sql/worker-queries.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
const WORKER = '00000000-0000-4000-8000-000000000001'
const claim = async (limit: number, queue = 'sync') =>
  (
    await claimLimitedJobs(t.pool, schemaNames(t.schema), {
      queue,
      limit,
      workerId: WORKER,
      leaseMs: 60_000,
      tasks: ['sync'],
    })
  ).jobs
const jobs = () => `"${t.schema}".jobs`

/** Enqueues `count` jobs per key, in key order, one statement. */
async function enqueueKeyed(keys: readonly string[], count: number, queue = 'sync') {
  await t.pgq.enqueueMany(
    keys.flatMap((key) =>
      Array.from({ length: count }, (_, i) => ({
        task: 'sync',
        payload: { i },
        options: { queue, concurrencyKey: key },
      })),
    ),
  )
}

/** Ends running jobs as the worker would: succeeded (or, with `retryInMs`, back to waiting). */
async function finish(ids: readonly string[], retryInMs?: number) {
  await t.pool.query(
    retryInMs === undefined
      ? `UPDATE ${jobs()} SET state = 'succeeded', finished_at = now(), locked_by = NULL, lease_token = NULL,
           lease_expires_at = NULL WHERE id = ANY($1::bigint[])`
      : `UPDATE ${jobs()} SET state = 'available', run_at = now() + $2 * interval '1 ms', locked_by = NULL,
           lease_token = NULL, lease_expires_at = NULL WHERE id = ANY($1::bigint[])`,
    retryInMs === undefined ? [ids] : [ids, retryInMs],
  )
}

async function keyOf(id: string): Promise<string | null> {
  return (await t.pool.query(`SELECT concurrency_key AS k FROM ${jobs()} WHERE id = $1`, [id])).rows[0].k
}

beforeAll(async () => {
  t = await createTestSchema()
})
beforeEach(async () => {
  await t.pool.query(`TRUNCATE ${jobs()}; DELETE FROM "${t.schema}".queues; DELETE FROM "${t.schema}".tasks`)
})
afterAll(async () => {
  await t.drop()
})

describe('per-key concurrency', () => {
  it('20 concurrent claimers never run more than the key limit of any key', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 2 })
    await enqueueKeyed(['a', 'b', 'c'], 10)
    const claims = await Promise.all(Array.from({ length: 20 }, () => claim(5)))
    const claimed = claims.flat()
    expect(claimed).toHaveLength(6)
    const perKey = (
      await t.pool.query(
        `SELECT concurrency_key AS k, count(*)::int AS n FROM ${jobs()} WHERE state = 'running' GROUP BY 1 ORDER BY 1`,
      )
    ).rows
    expect(perKey).toEqual([
      { k: 'a', n: 2 },
      { k: 'b', n: 2 },
      { k: 'c', n: 2 },
    ])
    // one finished job of key b frees exactly one slot, of key b
    const bJob = (await Promise.all(claimed.map(async (j) => ({ id: j.id, key: await keyOf(j.id) })))).find(
      (j) => j.key === 'b',
    )!
    await finish([bJob.id])
    const next = await claim(5)
    expect(next).toHaveLength(1)
    expect(await keyOf(next[0]!.id)).toBe('b')
  })

  it('keys take turns: a key with 5,000 waiting jobs does not hold back 49 keys with 10', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 1 })
    const small = Array.from({ length: 49 }, (_, i) => `small-${String(i).padStart(2, '0')}`)
    await enqueueKeyed(['big'], 5000)
    await enqueueKeyed(small, 10)
    // five claims of 10, finishing each batch: 50 different keys served, each once
    const served: string[] = []
    for (let round = 0; round < 5; round++) {
      const batch = await claim(10)
      expect(batch).toHaveLength(10)
      for (const job of batch) served.push((await keyOf(job.id))!)
      await finish(batch.map((j) => j.id))
    }
    expect(new Set(served).size).toBe(50)
    expect(served.filter((k) => k === 'big')).toHaveLength(1)
    // and the round goes on where it stopped: the next claim starts with keys not served last
    const cursor = (await t.pool.query(`SELECT key_cursor AS c FROM "${t.schema}".queues`)).rows[0].c
    expect(cursor).toBe(served.at(-1))
  })

  it('one claim serves as many keys as the batch needs, skips full keys, and the next goes on after the last', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 2 })
    await enqueueKeyed(['a', 'b', 'c', 'd', 'e'], 3)
    const keysOf = async (batch: readonly { id: string }[]) => Promise.all(batch.map((j) => keyOf(j.id)))
    const cursor = async () =>
      (await t.pool.query(`SELECT key_cursor AS c FROM "${t.schema}".queues`)).rows[0].c
    // a and b get their limit, c what the batch has left
    expect(await keysOf(await claim(5))).toEqual(['a', 'a', 'b', 'b', 'c'])
    expect(await cursor()).toBe('c')
    // from after c, wrapping around: a and b are full, c has one slot left
    expect(await keysOf(await claim(5))).toEqual(['d', 'd', 'e', 'e', 'c'])
    expect(await cursor()).toBe('c')
    // every key full: nothing, and the round stays where it was
    expect(await claim(5)).toEqual([])
    expect(await cursor()).toBe('c')
    // a's two jobs end: only a's last job may start
    await t.pool.query(`UPDATE ${jobs()} SET state = 'succeeded', finished_at = now(), locked_by = NULL,
      lease_token = NULL, lease_expires_at = NULL WHERE state = 'running' AND concurrency_key = 'a'`)
    expect(await keysOf(await claim(5))).toEqual(['a'])
  })

  it('a claim visits at most 1,000 keys; the next one goes on from there', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 1 })
    const keys = Array.from({ length: 1100 }, (_, i) => `k${String(i).padStart(4, '0')}`)
    await enqueueKeyed(keys, 1)
    const first = await claim(5000)
    expect(first).toHaveLength(1000)
    expect((await t.pool.query(`SELECT key_cursor AS c FROM "${t.schema}".queues`)).rows[0].c).toBe('k0999')
    const second = await claim(5000)
    expect(second).toHaveLength(100)
    expect(await keyOf(second[0]!.id)).toBe('k1000')
  })

  it("reads a key's jobs through its index, not the table from the oldest row, whatever the statistics (0017)", async () => {
    // one key holding every job, statistics taken while all of them waited: the planner used to
    // read the primary key from the oldest row and filter, passing every finished job on each claim
    await t.pgq.queues.set('sync', { keyConcurrency: 1_000_000 })
    await enqueueKeyed(['a'], 3_000)
    await t.pool.query(`ANALYZE ${jobs()}`)
    const first = await claim(2_000)
    expect(first).toHaveLength(2_000)
    await finish(first.map((j) => j.id))
    // a new connection, one transaction: its pending statistics are this claim's alone
    const client = await t.client()
    await client.query('BEGIN')
    const claimed = await claimLimitedJobs(client, schemaNames(t.schema), {
      queue: 'sync',
      limit: 10,
      workerId: WORKER,
      leaseMs: 60_000,
      tasks: ['sync'],
    })
    const pkey = await client.query<{ n: string }>(
      'SELECT pg_stat_get_xact_tuples_returned($1::regclass)::text AS n',
      [`"${t.schema}".jobs_pkey`],
    )
    await client.query('COMMIT')
    expect(claimed.jobs.map((j) => Number(j.id))).toEqual(first.slice(0, 10).map((j) => Number(j.id) + 2_000))
    // ten: the UPDATE finding the claimed rows; reading from the oldest row returned thousands
    expect(Number(pkey.rows[0]!.n)).toBeLessThan(100)
  })

  it('jobs without a key in a keyed queue are claimed too, without a per-key limit', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 1 })
    await enqueueKeyed(['a'], 3)
    await t.pgq.enqueueMany(
      Array.from({ length: 3 }, () => ({ task: 'sync', payload: {}, options: { queue: 'sync' } })),
    )
    const batch = await claim(10)
    expect(batch).toHaveLength(4) // one of key a, the three without a key
    expect((await Promise.all(batch.map((j) => keyOf(j.id)))).sort()).toEqual(['a', null, null, null])
  })
})

describe('rate per key', () => {
  it('2/s per key: a bucket of 2 per key at once, other keys not held back, and when the next token is due', async () => {
    const names = schemaNames(t.schema)
    await t.pgq.queues.set('sync', { keyRate: '2/s' })
    expect(await t.pgq.queues.get('sync')).toMatchObject({ keyRate: '2/s', keyConcurrency: null })
    await enqueueKeyed(['a', 'b', 'c'], 10)
    const params = { queue: 'sync', limit: 50, workerId: WORKER, leaseMs: 60_000, tasks: ['sync'] }
    const first = await claimLimitedJobs(t.pool, names, params)
    expect(first.jobs).toHaveLength(6) // two per key: each key's burst
    expect(first.retryScope).toBe('key')
    expect(first.retryInMs).toBeGreaterThan(0)
    expect(first.retryInMs).toBeLessThanOrEqual(500)
    // a key that has not spent its tokens is not held back by the others
    await enqueueKeyed(['d'], 5)
    const second = await claimLimitedJobs(t.pool, names, params)
    expect(await Promise.all(second.jobs.map((j) => keyOf(j.id)))).toEqual(['d', 'd'])
    const empty = await claimLimitedJobs(t.pool, names, params)
    expect(empty.jobs).toEqual([])
    expect(empty.retryScope).toBe('key')
    await new Promise((resolve) => setTimeout(resolve, empty.retryInMs! + 5)) // the documented wait
    const next = await claimLimitedJobs(t.pool, names, params)
    expect(next.jobs.length).toBeGreaterThanOrEqual(1)
    expect(next.jobs.length).toBeLessThanOrEqual(4 + 4) // a token per key, a few ms of refill more
    // buckets full again are dropped by the pruner (a missing row is a full bucket)
    await t.pool.query(
      `UPDATE "${t.schema}".queue_key_buckets SET tokens_at = now() - interval '2 s' WHERE key <> 'a'`,
    )
    expect(await pruneKeyBuckets(t.pool, names, 100)).toBe(3)
    expect((await t.pool.query(`SELECT key FROM "${t.schema}".queue_key_buckets`)).rows).toEqual([
      { key: 'a' },
    ])
    await t.pgq.queues.set('sync', { keyRate: null })
    expect(await pruneKeyBuckets(t.pool, names, 100)).toBe(1)
    for (const bad of ['0/s', 'fast', 5]) {
      await expect(t.pgq.queues.set('sync', { keyRate: bad as string })).rejects.toMatchObject({
        path: 'limits.keyRate',
      })
    }
  })
  it('a key emptied by this claim and still waiting sets the wake-up; keys past their burst start nothing', async () => {
    const names = schemaNames(t.schema)
    await t.pgq.queues.set('sync', { keyRate: '2/s' })
    await enqueueKeyed(['a', 'b'], 3)
    const params = { queue: 'sync', limit: 3, workerId: WORKER, leaseMs: 60_000, tasks: ['sync'] }
    // a's burst of 2, then b's first job fills the batch: no wake-up (the batch is full)
    const first = await claimLimitedJobs(t.pool, names, params)
    expect(await Promise.all(first.jobs.map((j) => keyOf(j.id)))).toEqual(['a', 'a', 'b'])
    expect(first.retryInMs).toBeUndefined()
    // b's last token; a has none: the batch is not full, and a's next token is due within 500 ms
    const second = await claimLimitedJobs(t.pool, names, params)
    expect(await Promise.all(second.jobs.map((j) => keyOf(j.id)))).toEqual(['b'])
    expect(second.retryScope).toBe('key')
    expect(second.retryInMs).toBeGreaterThan(0)
    expect(second.retryInMs).toBeLessThanOrEqual(500)
  })
})

describe('ordered keys', () => {
  it('start in enqueue order, one at a time; a retry holds the turn, a final failure releases it', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 1, ordered: true })
    await enqueueKeyed(['a'], 4)
    const ids = (await t.pool.query(`SELECT id::text FROM ${jobs()} ORDER BY id`)).rows.map((r) => r.id)
    // a higher priority does not jump the queue of an ordered key
    await t.pool.query(`UPDATE ${jobs()} SET priority = 10 WHERE id = $1`, [ids[3]])
    const first = await claim(10)
    expect(first.map((j) => j.id)).toEqual([ids[0]])
    expect(await claim(10)).toEqual([]) // the key is busy
    await finish([ids[0]!])
    expect((await claim(10)).map((j) => j.id)).toEqual([ids[1]])
    // job 2 fails and waits for its retry: job 3 must not overtake it
    await finish([ids[1]!], 60_000)
    expect(await claim(10)).toEqual([])
    await t.pool.query(`UPDATE ${jobs()} SET run_at = now() WHERE id = $1`, [ids[1]])
    expect((await claim(10)).map((j) => j.id)).toEqual([ids[1]])
    // now it fails for good: the key moves on
    await t.pool.query(
      `UPDATE ${jobs()} SET state = 'failed', finished_at = now(), locked_by = NULL, lease_token = NULL,
         lease_expires_at = NULL WHERE id = $1`,
      [ids[1]],
    )
    expect((await claim(10)).map((j) => j.id)).toEqual([ids[2]])
  })

  it('a job past its deadline does not hold its key; neither claim starts a job past its deadline', async () => {
    await t.pgq.queues.set('sync', { keyConcurrency: 1, ordered: true })
    await enqueueKeyed(['a'], 2)
    const ids = (await t.pool.query(`SELECT id::text FROM ${jobs()} ORDER BY id`)).rows.map((r) => r.id)
    await t.pool.query(`UPDATE ${jobs()} SET expires_at = now() - interval '1 ms' WHERE id = $1`, [ids[0]])
    expect((await claim(10)).map((j) => j.id)).toEqual([ids[1]])
    // the plain claim (a queue without limits) skips late jobs too
    await t.pgq.enqueueMany([
      { task: 'sync', payload: {}, options: { queue: 'free', expiresAt: new Date(Date.now() - 60_000) } },
      { task: 'sync', payload: {}, options: { queue: 'free', expireInMs: 60_000 } },
    ])
    const plain = await claimJobs(t.pool, schemaNames(t.schema), {
      queue: 'free',
      limit: 10,
      workerId: WORKER,
      leaseMs: 60_000,
      tasks: ['sync'],
    })
    expect(plain).toHaveLength(1)
    const deadline = (
      await t.pool.query(
        `SELECT extract(epoch FROM expires_at - run_at) * 1000 AS ms FROM ${jobs()} WHERE id = $1`,
        [plain[0]!.id],
      )
    ).rows[0].ms
    expect(Number(deadline)).toBeCloseTo(60_000, -1) // the deadline counts from when the job is due
  })

  it('ordered needs keyConcurrency 1, from the API and from the table', async () => {
    await expect(t.pgq.queues.set('sync', { ordered: true })).rejects.toMatchObject({
      code: 'PGQ_INVALID_INPUT',
      path: 'limits.ordered',
    })
    await expect(t.pgq.queues.set('sync', { keyConcurrency: 3, ordered: true })).rejects.toMatchObject({
      path: 'limits.ordered',
    })
    await t.pgq.queues.set('sync', { keyConcurrency: 1, ordered: true })
    await expect(t.pgq.queues.set('sync', { keyConcurrency: 2 })).rejects.toMatchObject({
      path: 'limits.ordered',
    })
    for (const bad of [0, -1, 2.5, '1']) {
      await expect(t.pgq.queues.set('sync', { keyConcurrency: bad as number })).rejects.toMatchObject({
        path: 'limits.keyConcurrency',
      })
    }
    expect(await t.pgq.queues.get('sync')).toMatchObject({ keyConcurrency: 1, ordered: true })
    await t.pgq.queues.set('sync', { keyConcurrency: null, ordered: false })
    expect(await t.pgq.queues.get('sync')).toMatchObject({ keyConcurrency: null, ordered: false })
  })
})

describe('where a key comes from', () => {
  const byPath = defineTask({
    name: 'sync',
    queue: 'sync',
    concurrencyKey: 'customer.id',
    expireInMs: 5_000,
    handler: async () => null,
  })
  const byFunction = defineTask({
    name: 'mail',
    concurrencyKey: (p: { to: string }) => p.to.split('@')[1],
    handler: async () => null,
  })

  it('from the task in TypeScript, from the registry in SQL, and the option wins', async () => {
    const a = await t.pgq.enqueue(byPath, { customer: { id: 42 } })
    const b = await t.pgq.enqueue(byPath, { customer: { id: 42 } }, { concurrencyKey: 'vip' })
    const c = await t.pgq.enqueue(byFunction, { to: 'ann@example.com' })
    const d = await t.pgq.enqueue(byPath, { customer: {} }) // no field: no key
    // SQL knows the path once a worker registered the task
    await registerTasks(t.pool, schemaNames(t.schema), [byPath], { workerId: WORKER, hostname: 'test' })
    const sql = await t.pool.query(
      `SELECT id::text FROM "${t.schema}".enqueue_many('[{"task":"sync","payload":{"customer":{"id":"c-7"}}},
         {"task":"sync","payload":{"customer":{"id":{"nested":1}}}}]'::jsonb) ORDER BY ord`,
    )
    const keys = await Promise.all(
      [a.id, b.id, c.id, d.id, sql.rows[0].id, sql.rows[1].id].map((id) => keyOf(id)),
    )
    expect(keys).toEqual(['42', 'vip', 'example.com', null, 'c-7', null])
    // the task's deadline applies in SQL as in TypeScript
    const { rows } = await t.pool.query(
      `SELECT round(extract(epoch FROM expires_at - run_at) * 1000)::int AS ms FROM ${jobs()} WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[a.id, sql.rows[0].id]],
    )
    expect(rows).toEqual([{ ms: 5000 }, { ms: 5000 }])
  })

  it('bad keys and deadlines throw before anything is written', async () => {
    const cases: [object, string][] = [
      [{ concurrencyKey: '' }, 'options.concurrencyKey'],
      [{ concurrencyKey: 'x'.repeat(513) }, 'options.concurrencyKey'],
      [{ expireInMs: 0 }, 'options.expireInMs'],
      [{ expireInMs: -5 }, 'options.expireInMs'],
      [{ expiresAt: new Date('nope') }, 'options.expiresAt'],
      [{ expiresAt: new Date(), expireInMs: 5 }, 'options.expiresAt'],
      [{ singleton: true, dedupKey: 'k' }, 'options.singleton'],
      [{ singleton: '' }, 'options.singleton'],
    ]
    for (const [options, path] of cases) {
      await expect(t.pgq.enqueue('sync', {}, options)).rejects.toMatchObject({
        code: 'PGQ_INVALID_INPUT',
        path,
      })
    }
    expect(() => defineTask({ name: 'x', concurrencyKey: 'a..b', handler: async () => null })).toThrow(
      /task.concurrencyKey/,
    )
    expect(() => defineTask({ name: 'x', expireInMs: 0, handler: async () => null })).toThrow(
      /task.expireInMs/,
    )
    await expect(
      t.pool.query(`SELECT * FROM "${t.schema}".enqueue_many('[{"task":"sync","expire_in_ms":0}]'::jsonb)`),
    ).rejects.toThrow(/expire_in_ms a number > 0/)
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM ${jobs()}`)).rows[0].n).toBe(0)
  })
})

describe('singletons', () => {
  it('50 concurrent enqueues of a singleton create one job; per key, one per key', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () => t.pgq.enqueue('report', { at: 1 }, { singleton: true })),
    )
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1)
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
    const perKey = []
    for (const k of ['a', 'b', 'a', 'b', 'c'])
      perKey.push(await t.pgq.enqueue('report', {}, { singleton: k }))
    expect(perKey.map((r) => r.outcome)).toEqual([
      'created',
      'created',
      'deduplicated',
      'deduplicated',
      'created',
    ])
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM ${jobs()}`)).rows[0].n).toBe(4)
  })
})
