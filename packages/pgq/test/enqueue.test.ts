import { Kysely, PostgresDialect } from 'kysely'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let listener: pg.Client
const notifications: { channel: string; payload: string | undefined }[] = []

const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  handler: async (_payload: { to: string }) => ({ sent: true }),
})

beforeAll(async () => {
  t = await createTestSchema()
  listener = await t.client()
  listener.on('notification', (n) => notifications.push({ channel: n.channel, payload: n.payload }))
  await listener.query(`LISTEN "${t.schema}:jobs"`)
})
afterAll(async () => {
  await t.drop()
})

async function countJobs(): Promise<number> {
  const result = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs`)
  return result.rows[0].n
}

async function jobExists(id: string): Promise<boolean> {
  const result = await t.pool.query(`SELECT 1 FROM "${t.schema}".jobs WHERE id = $1`, [id])
  return result.rowCount === 1
}

/** A marker notification sent after the step under test: once it arrives, earlier ones have too. */
async function flushNotifications(): Promise<void> {
  const marker = `marker-${Math.random()}`
  await t.pool.query(`SELECT pg_notify($1, $2)`, [`${t.schema}:jobs`, marker])
  await waitFor(() => notifications.some((n) => n.payload === marker), 5_000, 'marker notification')
  notifications.splice(0, notifications.length)
}

describe('enqueue on a pool', () => {
  it('inserts a job with the task defaults and wakes its queue', async () => {
    await flushNotifications()
    const job = await t.pgq.enqueue(sendEmail, { to: 'a@example.com' })
    expect(job.deduplicated).toBe(false)
    const row = (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [job.id])).rows[0]
    expect(row).toMatchObject({
      task: 'send_email',
      queue: 'emails',
      state: 'available',
      payload: { to: 'a@example.com' },
      priority: 0,
      attempts: 0,
      max_attempts: 5,
    })
    await waitFor(() => notifications.some((n) => n.payload?.split('*')[0] === 'emails'), 5_000, 'wake-up')
  })

  it('applies per-job options and puts a delayed job in the future by the database clock', async () => {
    const job = await t.pgq.enqueue(
      sendEmail,
      { to: 'b@example.com' },
      { queue: 'slow', priority: 7, delayMs: 60_000, maxAttempts: 2 },
    )
    const row = (
      await t.pool.query(
        `SELECT queue, priority, max_attempts, extract(epoch FROM run_at - now()) AS ahead FROM "${t.schema}".jobs WHERE id = $1`,
        [job.id],
      )
    ).rows[0]
    expect(row.queue).toBe('slow')
    expect(row.priority).toBe(7)
    expect(row.max_attempts).toBe(2)
    expect(Number(row.ahead)).toBeGreaterThan(55)
    expect(Number(row.ahead)).toBeLessThanOrEqual(60)
  })
})

describe('enqueue inside the caller’s transaction', () => {
  it('pg client: rollback leaves no job and no wake-up; commit makes it visible and wakes after commit', async () => {
    const client = await t.client()
    await flushNotifications()
    await client.query('BEGIN')
    const rolledBack = await t.pgq.enqueue(sendEmail, { to: 'r@example.com' }, { db: client, queue: 'txq' })
    await client.query('ROLLBACK')
    expect(await jobExists(rolledBack.id)).toBe(false)

    await client.query('BEGIN')
    const committed = await t.pgq.enqueue(sendEmail, { to: 'c@example.com' }, { db: client, queue: 'txq' })
    // not visible to others and no notification before COMMIT
    expect(await jobExists(committed.id)).toBe(false)
    await flushNotifications() // a marker sent now arrives, and no 'txq' wake-up came with it
    await client.query('COMMIT')
    expect(await jobExists(committed.id)).toBe(true)
    await waitFor(
      () => notifications.some((n) => n.payload?.split('*')[0] === 'txq'),
      5_000,
      'wake-up after commit',
    )
  })

  it('Kysely transaction: rollback leaves no job, commit keeps it with the business row', async () => {
    const db = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool: t.pool }) })
    await t.pool.query(`CREATE TABLE "${t.schema}".videos (id int PRIMARY KEY)`)
    let rolledBackId = ''
    await expect(
      db.transaction().execute(async (trx) => {
        await t.pool.query('SELECT 1') // unrelated pool traffic does not join the transaction
        await trx.executeQuery({
          sql: `INSERT INTO "${t.schema}".videos (id) VALUES (1)`,
          parameters: [],
          query: { kind: 'RawNode' } as never,
          queryId: { queryId: 'x' } as never,
        })
        rolledBackId = (await t.pgq.enqueue(sendEmail, { to: 'k@example.com' }, { db: trx })).id
        throw new Error('business rule failed')
      }),
    ).rejects.toThrow('business rule failed')
    expect(await jobExists(rolledBackId)).toBe(false)

    const committedId = await db.transaction().execute(async (trx) => {
      return (await t.pgq.enqueue(sendEmail, { to: 'k2@example.com' }, { db: trx })).id
    })
    expect(await jobExists(committedId)).toBe(true)
    const videos = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".videos`)
    expect(videos.rows[0].n).toBe(0)
  })
})

describe('bulk enqueue', () => {
  it('inserts many jobs in one statement, in order, with one wake-up per queue', async () => {
    await flushNotifications()
    const jobs = Array.from({ length: 1000 }, (_, i) => ({
      task: sendEmail,
      payload: { to: `u${i}@example.com` },
      options: { queue: i % 2 === 0 ? 'bulk_a' : 'bulk_b' },
    }))
    const result = await t.pgq.enqueueMany(jobs)
    expect(result).toHaveLength(1000)
    const ids = result.map((r) => BigInt(r.id))
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids)
    const rows = await t.pool.query(
      `SELECT id::text, payload->>'to' AS "to" FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[])`,
      [result.map((r) => r.id)],
    )
    const byId = new Map(rows.rows.map((r) => [r.id, r.to]))
    for (const [i, r] of result.entries()) expect(byId.get(r.id)).toBe(`u${i}@example.com`)
    await flushNotifications()
  })

  it('rolls back with the caller’s transaction', async () => {
    const before = await countJobs()
    const client = await t.client()
    await client.query('BEGIN')
    await t.pgq.enqueueMany(
      [
        { task: 'x', payload: {} },
        { task: 'y', payload: {} },
      ],
      { db: client },
    )
    await client.query('ROLLBACK')
    expect(await countJobs()).toBe(before)
  })
})

describe('deduplication keys', () => {
  it('returns the live job instead of creating a second one', async () => {
    const a = await t.pgq.enqueue(sendEmail, { to: 'd@example.com' }, { dedupKey: 'welcome:1' })
    const b = await t.pgq.enqueue(sendEmail, { to: 'other@example.com' }, { dedupKey: 'welcome:1' })
    expect(b).toEqual({ id: a.id, deduplicated: true, outcome: 'deduplicated' })
    const row = (await t.pool.query(`SELECT payload FROM "${t.schema}".jobs WHERE id = $1`, [a.id])).rows[0]
    expect(row.payload).toEqual({ to: 'd@example.com' })
  })

  it('replace mode updates the waiting job’s payload', async () => {
    const a = await t.pgq.enqueue(sendEmail, { to: 'v1@example.com' }, { dedupKey: 'debounce:1' })
    const b = await t.pgq.enqueue(
      sendEmail,
      { to: 'v2@example.com' },
      { dedupKey: 'debounce:1', dedupMode: 'replace' },
    )
    expect(b).toEqual({ id: a.id, deduplicated: true, outcome: 'replaced' })
    const row = (await t.pool.query(`SELECT payload FROM "${t.schema}".jobs WHERE id = $1`, [a.id])).rows[0]
    expect(row.payload).toEqual({ to: 'v2@example.com' })
  })

  it('keys are per task, and duplicates inside one bulk call collapse', async () => {
    const result = await t.pgq.enqueueMany([
      { task: 'task_a', payload: {}, options: { dedupKey: 'same' } },
      { task: 'task_b', payload: {}, options: { dedupKey: 'same' } },
      { task: 'task_a', payload: {}, options: { dedupKey: 'same' } },
    ])
    expect(result[0]!.deduplicated).toBe(false)
    expect(result[1]!.deduplicated).toBe(false)
    expect(result[1]!.id).not.toBe(result[0]!.id)
    expect(result[2]).toEqual({ id: result[0]!.id, deduplicated: true, outcome: 'deduplicated' })
  })

  it('50 concurrent transactions on one key, half rolling back, leave exactly one job and no errors', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const client = await t.pool.connect()
        try {
          await client.query('BEGIN')
          const job = await t.pgq.enqueue(
            sendEmail,
            { to: `${i}@example.com` },
            { db: client, dedupKey: 'race' },
          )
          await client.query(i % 2 === 0 ? 'ROLLBACK' : 'COMMIT')
          return { job, committed: i % 2 === 1 }
        } finally {
          client.release()
        }
      }),
    )
    const rows = await t.pool.query(`SELECT id::text FROM "${t.schema}".jobs WHERE dedup_key = 'race'`)
    expect(rows.rowCount).toBe(1)
    const survivor = rows.rows[0].id
    for (const r of results.filter((r) => r.committed)) expect(r.job.id).toBe(survivor)
  })
})

describe('enqueue from SQL', () => {
  it('pgq.enqueue() returns an id, with named optional parameters, and wakes the queue', async () => {
    await flushNotifications()
    const result = await t.pool.query(
      `SELECT "${t.schema}".enqueue('send_email', '{"to":"sql@example.com"}') AS id,
              "${t.schema}".enqueue('report', '{}', queue => 'reports', priority => 5, delay => interval '1 hour') AS later`,
    )
    const { id, later } = result.rows[0]
    expect(await jobExists(id)).toBe(true)
    const row = (
      await t.pool.query(
        `SELECT queue, priority, run_at > now() + interval '59 minutes' AS later FROM "${t.schema}".jobs WHERE id = $1`,
        [later],
      )
    ).rows[0]
    expect(row).toEqual({ queue: 'reports', priority: 5, later: true })
    await waitFor(() => notifications.some((n) => n.payload?.split('*')[0] === 'default'), 5_000, 'wake-up')
    await waitFor(
      () => notifications.some((n) => n.payload?.startsWith('reports@')),
      5_000,
      'delayed wake-up',
    )
  })

  it('works from a trigger, inside the business transaction', async () => {
    await t.pool.query(`
      CREATE TABLE "${t.schema}".signups (id serial PRIMARY KEY, email text NOT NULL);
      CREATE FUNCTION "${t.schema}".signup_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM "${t.schema}".enqueue('send_email', jsonb_build_object('to', NEW.email), queue => 'emails');
        RETURN NEW;
      END $$;
      CREATE TRIGGER signup_email AFTER INSERT ON "${t.schema}".signups
        FOR EACH ROW EXECUTE FUNCTION "${t.schema}".signup_enqueue();`)
    await t.pool.query(`INSERT INTO "${t.schema}".signups (email) VALUES ('trigger@example.com')`)
    const found = await t.pool.query(
      `SELECT 1 FROM "${t.schema}".jobs WHERE payload->>'to' = 'trigger@example.com'`,
    )
    expect(found.rowCount).toBe(1)
  })

  it('rejects a batch that is not an array, and a job without a task, writing nothing', async () => {
    const before = await countJobs()
    await expect(t.pool.query(`SELECT * FROM "${t.schema}".enqueue_many('{}')`)).rejects.toThrow(/JSON array/)
    await expect(
      t.pool.query(`SELECT * FROM "${t.schema}".enqueue_many('[{"task":"ok"},{"payload":{}}]')`),
    ).rejects.toThrow(/not an object with a task name/)
    await expect(t.pool.query(`SELECT "${t.schema}".enqueue('bad name!', '{}')`)).rejects.toThrow(
      /task and queue names must be 1-128 characters.*bad name!/,
    )
    expect(await countJobs()).toBe(before)
  })
})

describe('bad input', () => {
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const cases: [string, unknown, RegExp][] = [
    ['BigInt', { n: 10n }, /payload\.n: BigInt/],
    ['circular', circular, /payload\.self: circular/],
    ['function', { f: () => 1 }, /payload\.f: a function/],
    ['undefined at top level', undefined, /payload: must be a JSON value/],
    ['undefined in an array', [1, undefined], /payload\[1\]: undefined/],
    ['NUL in a string', { s: 'a\u0000b' }, /payload\.s: strings must not contain NUL/],
    ['NUL in a key', { 'a\u0000': 1 }, /NUL/],
    ['lone surrogate', { s: '\ud800' }, /surrogate/],
    ['Date', { at: new Date() }, /payload\.at: a Date is not JSON/],
    ['Map', { m: new Map() }, /class instance/],
    ['NaN', { x: Number.NaN }, /finite/],
    ['symbol', { s: Symbol('x') }, /symbol/],
  ]
  for (const [label, payload, message] of cases) {
    it(`rejects ${label} with a typed error and writes nothing`, async () => {
      const before = await countJobs()
      const error = await t.pgq.enqueue('any_task', payload).catch((e) => e)
      expect(error).toBeInstanceOf(PgqValidationError)
      expect(error.message).toMatch(message)
      expect(await countJobs()).toBe(before)
    })
  }

  it('rejects a payload over the size limit, naming the limit', async () => {
    const small = createTestSchemaPgq(64)
    const error = await small.enqueue('t', { text: 'x'.repeat(100) }).catch((e) => e)
    expect(error).toBeInstanceOf(PgqValidationError)
    expect(error.message).toMatch(/at most 64 bytes/)
  })

  it('rejects unknown options, bad names and out-of-range numbers', async () => {
    const before = await countJobs()
    const attempts: [() => Promise<unknown>, RegExp][] = [
      [() => t.pgq.enqueue('t', {}, { queue: 'bad queue' }), /options\.queue: must be 1-128 characters/],
      [() => t.pgq.enqueue('t', {}, { prio: 1 } as never), /options\.prio: unknown option/],
      [() => t.pgq.enqueue('bad/task', {}), /task: must be 1-128/],
      [() => t.pgq.enqueue('t', {}, { priority: 1.5 }), /options\.priority: must be an integer/],
      [() => t.pgq.enqueue('t', {}, { maxAttempts: 0 }), /options\.maxAttempts/],
      [() => t.pgq.enqueue('t', {}, { runAt: new Date('nope') }), /options\.runAt/],
      [() => t.pgq.enqueue('t', {}, { delayMs: -1 }), /options\.delayMs/],
      [() => t.pgq.enqueue('t', {}, { dedupMode: 'merge' as never }), /options\.dedupMode/],
      [() => t.pgq.enqueue('t', {}, { db: {} as never }), /options\.db/],
      [
        () =>
          t.pgq.enqueueMany([
            { task: 't', payload: {} },
            { task: 't', payload: 1n },
          ]),
        /jobs\[1\]\.payload/,
      ],
    ]
    for (const [attempt, message] of attempts) {
      const error: unknown = await attempt().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PgqValidationError)
      expect((error as PgqValidationError).message).toMatch(message)
    }
    expect(await countJobs()).toBe(before)
  })
})

function createTestSchemaPgq(maxPayloadBytes: number) {
  // a second client on the same schema with a tiny payload limit
  return new (t.pgq.constructor as typeof import('../src/client/pgq.js').Pgq)({
    pool: t.pool,
    schema: t.schema,
    maxPayloadBytes,
  })
}
