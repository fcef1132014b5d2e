import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PgQueryable } from '../src/db/executor.js'
import { PgqValidationError } from '../src/errors.js'
import { MAX_JSON_DEPTH } from '../src/task/payload.js'
import type { StandardSchemaLike } from '../src/task/payload-validation.js'
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
})
afterAll(async () => {
  await t.drop()
})

/** The real pool, counting the statements sent through it. */
function countingDb(): PgQueryable & { statements: number } {
  const db = {
    statements: 0,
    query(text: string, values?: unknown[]) {
      db.statements++
      return t.pool.query(text, values)
    },
  }
  return db
}

async function jobsOf(task: string) {
  const result = await t.pool.query(
    `SELECT id::text, state, attempts, max_attempts, payload, jsonb_typeof(payload) AS type, result, errors
     FROM "${t.schema}".jobs WHERE task = $1 ORDER BY id`,
    [task],
  )
  return result.rows
}

const isEmail = (p: unknown): { to: string } => {
  if (typeof (p as { to?: unknown } | null)?.to !== 'string') throw new Error('to: must be a string')
  return p as { to: string }
}

describe('payload validation at enqueue', () => {
  it('a payload the task rejects throws PgqValidationError before any SQL; nothing is written', async () => {
    const task = defineTask({
      name: 'v_email',
      parsePayload: isEmail,
      handler: async (_p: { to: string }) => null,
    })
    const db = countingDb()
    const error = await t.pgq.enqueue(task, { to: 42 } as never, { db }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PgqValidationError)
    expect(error).toMatchObject({ path: 'payload', rule: expect.stringMatching(/to: must be a string/) })
    const bulk = await t.pgq
      .enqueueMany(
        [
          { task, payload: { to: 'ok@x' } },
          { task, payload: {} },
        ],
        { db },
      )
      .catch((e: unknown) => e)
    expect(bulk).toMatchObject({ path: 'jobs[1].payload' })
    expect(db.statements).toBe(0)
    expect(await jobsOf('v_email')).toEqual([])
    await t.pgq.enqueue(task, { to: 'fine@x' }, { db })
    expect(db.statements).toBe(1)
  })

  it('accepts a Standard Schema object (zod, valibot, arktype shape) and reports its issues', async () => {
    const schema: StandardSchemaLike<{ n: number }> = {
      '~standard': {
        validate: (v) =>
          typeof (v as { n?: unknown })?.n === 'number'
            ? { value: v as { n: number } }
            : { issues: [{ message: 'expected a number', path: [{ key: 'n' }] }] },
      },
    }
    const task = defineTask({
      name: 'v_std',
      parsePayload: schema,
      handler: async (_p: { n: number }) => null,
    })
    await expect(t.pgq.enqueue(task, { n: 'one' } as never)).rejects.toMatchObject({
      rule: expect.stringMatching(/n: expected a number/),
    })
    await t.pgq.enqueue(task, { n: 1 })
    expect((await jobsOf('v_std')).map((j) => j.payload)).toEqual([{ n: 1 }])
  })

  it('refuses an asynchronous validator at enqueue, and a validator that is not one at definition', async () => {
    const task = defineTask({
      name: 'v_async',
      parsePayload: { '~standard': { validate: async (v: unknown) => ({ value: v }) } },
      handler: async () => null,
    })
    await expect(t.pgq.enqueue(task, {})).rejects.toMatchObject({
      rule: expect.stringMatching(/synchronous/),
    })
    expect(() => defineTask({ name: 'x', parsePayload: 42 as never, handler: async () => null })).toThrow(
      PgqValidationError,
    )
  })
})

describe('payload validation at run time', () => {
  it('a payload that fails validation fails the job at once: attempts = 1, no retry', async () => {
    const handled: unknown[] = []
    const task = defineTask({
      name: 'v_run',
      maxAttempts: 3,
      parsePayload: isEmail,
      handler: async (p: { to: string }) => void handled.push(p),
    })
    // SQL enqueue does not run TypeScript validation
    await t.pool.query(`SELECT "${t.schema}".enqueue('v_run', '{"to": 7}', max_attempts => 3)`)
    const worker = t.pgq.createWorker({ tasks: [task], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    const [job] = await waitFor(async () => {
      const rows = await jobsOf('v_run')
      return rows[0]?.state === 'failed' ? rows : undefined
    }, 10_000)
    expect(job).toMatchObject({ state: 'failed', attempts: 1, max_attempts: 3 })
    expect(job.errors).toHaveLength(1)
    expect(job.errors[0].message).toMatch(/payload rejected by the task's parsePayload: to: must be a string/)
    expect(handled).toEqual([])
  })
})

describe('JSON null and deep payloads', () => {
  it('null stays null from TypeScript and SQL, in the row and in the handler', async () => {
    const seen: unknown[] = []
    const task = defineTask({ name: 'v_null', handler: async (p: null) => void seen.push(p) })
    await t.pgq.enqueue(task, null)
    await t.pgq.enqueueMany([{ task, payload: null }])
    await t.pool.query(`SELECT "${t.schema}".enqueue('v_null', 'null'::jsonb)`)
    await t.pool.query(`SELECT "${t.schema}".enqueue('v_null', NULL)`)
    await t.pool.query(`SELECT * FROM "${t.schema}".enqueue_many('[{"task":"v_null","payload":null}]')`)
    // a job without a payload key still gets {}
    await t.pool.query(`SELECT * FROM "${t.schema}".enqueue_many('[{"task":"v_null"}]')`)
    expect((await jobsOf('v_null')).map((j) => j.type)).toEqual([
      'null',
      'null',
      'null',
      'null',
      'null',
      'object',
    ])
    const worker = t.pgq.createWorker({ tasks: [task], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    await waitFor(() => seen.length === 6, 10_000, 'six jobs run')
    expect(seen.filter((p) => p === null)).toHaveLength(5)
    expect(seen.filter((p) => p !== null)).toEqual([{}])
  })

  it(`a payload nested deeper than ${MAX_JSON_DEPTH} levels is a typed error, and nothing is written`, async () => {
    let deep: unknown = 1
    for (let i = 0; i < 5_000; i++) deep = [deep]
    const db = countingDb()
    const error = await t.pgq.enqueue('v_deep', deep, { db }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PgqValidationError)
    expect((error as PgqValidationError).rule).toMatch(`at most ${MAX_JSON_DEPTH} levels`)
    let object: unknown = {}
    for (let i = 0; i < 20_000; i++) object = { a: object }
    await expect(t.pgq.enqueue('v_deep', object, { db })).rejects.toBeInstanceOf(PgqValidationError)
    expect(db.statements).toBe(0)
    // the limit itself is allowed, one more level is not
    let ok: unknown = 1
    for (let i = 0; i < MAX_JSON_DEPTH; i++) ok = [ok]
    await expect(t.pgq.enqueue('v_deep', [ok], { db })).rejects.toBeInstanceOf(PgqValidationError)
    await t.pgq.enqueue('v_deep', ok)
    expect(await jobsOf('v_deep')).toHaveLength(1)
  })
})
