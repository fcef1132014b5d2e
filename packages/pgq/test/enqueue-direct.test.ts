// Jobs without dedup keys are enqueued by one plain statement (insertJobsDirectly) instead of the
// enqueue_many() function: both must store the same jobs. Each case enqueues the same job both ways
// and compares every column that does not differ by nature (ids, timestamps).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schemaNames } from '../src/db/schema-names.js'
import { canInsertDirectly } from '../src/sql/job-queries.js'
import { registerTasks } from '../src/sql/task-queries.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
const WORKER = { workerId: '00000000-0000-4000-8000-000000000001', hostname: 'test' }

beforeAll(async () => {
  t = await createTestSchema()
  const registered = defineTask({
    name: 'registered',
    queue: 'mail',
    priority: 3,
    maxAttempts: 2,
    concurrencyKey: 'account.id',
    expireInMs: 90_000,
    handler: async () => null,
  })
  await registerTasks(t.pool, schemaNames(t.schema), [registered], WORKER)
})
afterAll(async () => {
  await t.drop()
})

/** The columns both paths must agree on; times relative to the row's own created_at/run_at. */
async function row(id: string) {
  const { rows } = await t.pool.query(
    `SELECT task, payload, queue, priority, state, max_attempts, max_interruptions, attempts,
            concurrency_key, dedup_key, meta,
            round(extract(epoch FROM run_at - created_at))::int AS delay_s,
            round(extract(epoch FROM expires_at - run_at))::int AS expires_s
     FROM "${t.schema}".jobs WHERE id = $1`,
    [id],
  )
  return rows[0]
}

/** The same job through enqueue_many(), as SQL callers enqueue it. */
async function viaFunction(job: Record<string, unknown>): Promise<string> {
  const { rows } = await t.pool.query(`SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb)`, [
    JSON.stringify([job]),
  ])
  return rows[0].id
}

describe('a lone job: one INSERT, the same row as enqueue_many()', () => {
  const cases: [string, string, unknown, Record<string, unknown>, Record<string, unknown>][] = [
    ['unregistered, no options', 'plain', { a: 1 }, {}, {}],
    ['registered: the task’s defaults', 'registered', { account: { id: 7 } }, {}, {}],
    [
      'registered, every option given',
      'registered',
      { account: { id: 7 } },
      {
        queue: 'urgent',
        priority: -4,
        maxAttempts: 9,
        delayMs: 60_000,
        concurrencyKey: 'k',
        expireInMs: 5_000,
      },
      {
        queue: 'urgent',
        priority: -4,
        max_attempts: 9,
        delay_ms: 60_000,
        concurrency_key: 'k',
        expire_in_ms: 5_000,
      },
    ],
    ['a key field of another type gives no key', 'registered', { account: { id: { x: 1 } } }, {}, {}],
    ['a JSON null payload', 'plain', null, {}, {}],
    [
      'an absolute deadline and run time',
      'plain',
      'text',
      { runAt: new Date(Date.now() + 3_600_000), expiresAt: new Date(Date.now() + 7_200_000) },
      {},
    ],
  ]
  for (const [name, task, payload, options, sqlOptions] of cases) {
    it(name, async () => {
      const direct = await t.pgq.enqueue(task, payload, options)
      expect(direct).toMatchObject({ deduplicated: false, outcome: 'created' })
      const json: Record<string, unknown> = { task, payload, ...sqlOptions }
      if (options.runAt instanceof Date) json.run_at = options.runAt.toISOString()
      if (options.expiresAt instanceof Date) json.expires_at = options.expiresAt.toISOString()
      expect(await row(direct.id)).toEqual(await row(await viaFunction(json)))
    })
  }

  it('a batch: the same rows in the same order, ids in input order, one statement', async () => {
    const specs = [
      { task: 'registered', payload: { account: { id: 'a' } } },
      { task: 'plain', payload: [1, 2], options: { priority: 5, delayMs: 30_000 } },
      {
        task: 'registered',
        payload: { account: { id: 'b' } },
        options: { queue: 'other', expireInMs: 10_000 },
      },
    ] as const
    const direct = await t.pgq.enqueueMany(specs)
    expect(direct.map((j) => j.outcome)).toEqual(['created', 'created', 'created'])
    expect(direct.map((j) => BigInt(j.id))).toEqual(
      [...direct.map((j) => BigInt(j.id))].sort((a, b) => (a < b ? -1 : 1)),
    )
    const { rows } = await t.pool.query(
      `SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb) ORDER BY ord`,
      [
        JSON.stringify([
          { task: 'registered', payload: { account: { id: 'a' } } },
          { task: 'plain', payload: [1, 2], priority: 5, delay_ms: 30_000 },
          { task: 'registered', payload: { account: { id: 'b' } }, queue: 'other', expire_in_ms: 10_000 },
        ]),
      ],
    )
    for (let i = 0; i < 3; i++) expect(await row(direct[i]!.id)).toEqual(await row(rows[i].id))
    // a batch with one dedup key goes through the function whole
    const mixed = await t.pgq.enqueueMany([
      { task: 'plain', payload: {} },
      { task: 'plain', payload: {}, options: { dedupKey: 'same' } },
      { task: 'plain', payload: {}, options: { dedupKey: 'same' } },
    ])
    expect(mixed.map((j) => j.outcome)).toEqual(['created', 'created', 'deduplicated'])
  })

  it('a batch travels as typed arrays: every column, payloads that need escaping, the same rows', async () => {
    const runAt = new Date(Date.now() + 3_600_000)
    const expiresAt = new Date(Date.now() + 7_200_000)
    const awkward = { q: 'say "hi"', b: 'back\\slash', braces: '{a,b}', u: 'é 😀', nul: 'NULL' }
    const specs = [
      { task: 'plain', payload: awkward, options: { runAt, expiresAt, maxAttempts: 3 } },
      { task: 'plain', payload: null },
      { task: 'plain', payload: 'NULL' },
      { task: 'registered', payload: { account: { id: 'c' } }, options: { concurrencyKey: 'k "1"' } },
      {
        task: 'plain',
        payload: [{}, []],
        options: { queue: 'q2', priority: 2, delayMs: 1_000, expireInMs: 1 },
      },
    ] as const
    const direct = await t.pgq.enqueueMany(specs)
    const { rows } = await t.pool.query(
      `SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb) ORDER BY ord`,
      [
        JSON.stringify([
          {
            task: 'plain',
            payload: awkward,
            run_at: runAt.toISOString(),
            expires_at: expiresAt.toISOString(),
            max_attempts: 3,
          },
          { task: 'plain', payload: null },
          { task: 'plain', payload: 'NULL' },
          { task: 'registered', payload: { account: { id: 'c' } }, concurrency_key: 'k "1"' },
          { task: 'plain', payload: [{}, []], queue: 'q2', priority: 2, delay_ms: 1_000, expire_in_ms: 1 },
        ]),
      ],
    )
    for (let i = 0; i < specs.length; i++) expect(await row(direct[i]!.id)).toEqual(await row(rows[i].id))
    expect((await row(direct[0]!.id)).payload).toEqual(awkward)
    expect((await row(direct[1]!.id)).payload).toBeNull()
    expect((await row(direct[2]!.id)).payload).toBe('NULL')
  })

  it('dedup keys and singletons still go through the function', async () => {
    expect(canInsertDirectly({ task: 'x' })).toBe(true)
    expect(canInsertDirectly({ task: 'x', dedup_key: 'k' })).toBe(false)
    const first = await t.pgq.enqueue('plain', {}, { singleton: true })
    const second = await t.pgq.enqueue('plain', {}, { singleton: true })
    expect(second).toMatchObject({ id: first.id, outcome: 'deduplicated' })
  })

  it('wakes the queue’s workers like the function (one NOTIFY on <schema>:jobs)', async () => {
    const listener = await t.pool.connect()
    try {
      const heard: string[] = []
      listener.on('notification', (n) => heard.push(n.payload ?? ''))
      await listener.query(`LISTEN "${t.schema}:jobs"`)
      const woken = await t.pgq.enqueue('plain', {}, { queue: 'wake' })
      await t.pgq.enqueue('plain', {}, { queue: 'later', delayMs: 60_000 })
      await waitFor(() => heard.length >= 2, 5_000, 'two notifications')
      expect(heard[0]).toBe(`wake*${woken.id}`) // the new job's id picks which workers wake
      expect(heard[1]).toMatch(/^later@\d{13}$/)
    } finally {
      listener.release()
    }
  })
})
