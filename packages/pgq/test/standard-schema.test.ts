// Tasks declared with a Standard Schema (zod, valibot, arktype): the handler's and enqueue's types
// come from the schema; enqueue validates before any SQL; a run-time mismatch fails the job without
// retry; a resultSchema checks and shapes the result. The type tests are checked by `tsc -b`.
import { type } from 'arktype'
import * as v from 'valibot'
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import type { PgQueryable } from '../src/db/executor.js'
import { PgqValidationError } from '../src/errors.js'
import type { InferSchemaInput, InferSchemaOutput } from '../src/task/standard-schema.js'
import { type AnyTaskDefinition, defineTask, type TaskDefinition } from '../src/task/task.js'
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

async function finished(id: string) {
  return waitFor(
    async () => {
      const row = (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
      return ['succeeded', 'failed', 'cancelled'].includes(row.state) ? row : undefined
    },
    10_000,
    `job ${id} finished`,
  )
}

const seen: unknown[] = []

// the same task three ways: { orderId: string; cents: positive int; rush defaults to false }
const zodOrder = z.object({
  orderId: z.string(),
  cents: z.number().int().positive(),
  rush: z.boolean().default(false),
})
const valibotOrder = v.object({
  orderId: v.string(),
  cents: v.pipe(v.number(), v.integer(), v.minValue(1)),
  rush: v.optional(v.boolean(), false),
})
const zodTask = defineTask({
  name: 'order_zod',
  maxAttempts: 3,
  schema: zodOrder,
  handler: async (payload) => {
    seen.push(payload)
    return { charged: payload.cents }
  },
})
const valibotTask = defineTask({
  name: 'order_valibot',
  maxAttempts: 3,
  schema: valibotOrder,
  handler: async (payload) => {
    seen.push(payload)
    return { charged: payload.cents }
  },
})
const arktypeTask = defineTask({
  name: 'order_arktype',
  maxAttempts: 3,
  schema: type({ orderId: 'string', cents: 'number.integer > 0', 'rush?': 'boolean' }),
  handler: async (payload) => {
    seen.push(payload)
    return { charged: payload.cents }
  },
})

describe('types inferred from the schema', () => {
  it("gives the handler the schema's output and enqueue its input", () => {
    expectTypeOf(zodTask).toEqualTypeOf<
      TaskDefinition<{ orderId: string; cents: number; rush?: boolean | undefined }, { charged: number }>
    >()
    expectTypeOf<InferSchemaOutput<typeof zodOrder>>().toEqualTypeOf<{
      orderId: string
      cents: number
      rush: boolean
    }>()
    expectTypeOf<InferSchemaInput<typeof valibotOrder>>().toEqualTypeOf<{
      orderId: string
      cents: number
      rush?: boolean | undefined
    }>()
    expectTypeOf(valibotTask).toEqualTypeOf<
      TaskDefinition<{ orderId: string; cents: number; rush?: boolean | undefined }, { charged: number }>
    >()
    expectTypeOf(arktypeTask).toMatchTypeOf<
      TaskDefinition<{ orderId: string; cents: number }, { charged: number }>
    >()
    defineTask({
      name: 'typed_handler',
      schema: z.object({ n: z.number() }),
      handler: (payload) => {
        expectTypeOf(payload).toEqualTypeOf<{ n: number }>()
        // @ts-expect-error: the schema has no such field
        return payload.missing
      },
    })
    const check = () => {
      // @ts-expect-error: cents must be a number
      void t.pgq.enqueue(zodTask, { orderId: 'o', cents: '5' })
      // @ts-expect-error: orderId is required
      void t.pgq.enqueue(valibotTask, { cents: 5 })
      void t.pgq.enqueue(zodTask, { orderId: 'o', cents: 5 }) // rush is optional on the way in
      defineTask({
        name: 'wrong_annotation',
        // @ts-expect-error: the handler's parameter must accept the schema's output
        schema: z.object({ n: z.number() }),
        handler: (_payload: { s: string }) => null,
      })
    }
    expect(typeof check).toBe('function')
  })

  it('a resultSchema types the result and what the handler must return', () => {
    const task = defineTask({
      name: 'typed_result',
      schema: z.object({ n: z.number() }),
      resultSchema: z.object({ doubled: z.number() }),
      handler: (payload) => ({ doubled: payload.n * 2 }),
    })
    expectTypeOf(task).toEqualTypeOf<TaskDefinition<{ n: number }, { doubled: number }>>()
    const check = () =>
      defineTask({
        name: 'bad_result',
        // @ts-expect-error: the result must match the resultSchema's input
        resultSchema: z.object({ doubled: z.number() }),
        handler: (_payload: object) => ({ doubled: 'two' }),
      })
    expect(typeof check).toBe('function')
  })
})

describe.each([
  ['zod', zodTask],
  ['valibot', valibotTask],
  ['arktype', arktypeTask],
] as [string, AnyTaskDefinition][])('%s schema at run time', (_library, task) => {
  it('enqueue rejects a bad payload with PgqValidationError before any SQL; nothing is written', async () => {
    const db = countingDb()
    const error = await t.pgq.enqueue(task, { orderId: 'o-1', cents: -5 }, { db }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PgqValidationError)
    expect(error).toMatchObject({
      path: 'payload',
      rule: expect.stringMatching(/rejected by the task's schema: cents/),
    })
    const many = await t.pgq
      .enqueueMany(
        [
          { task, payload: { orderId: 'o-2', cents: 5 } },
          { task, payload: { cents: 5 } },
        ],
        { db },
      )
      .catch((e: unknown) => e)
    expect(many).toMatchObject({ path: 'jobs[1].payload', rule: expect.stringMatching(/orderId/) })
    expect(db.statements).toBe(0)
    const rows = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE task = $1`, [
      task.name,
    ])
    expect(rows.rows[0].n).toBe(0)
  })

  it("the handler gets the schema's output; a payload that fails in the worker fails the job without retry", async () => {
    seen.length = 0
    const worker = t.pgq.createWorker({ tasks: [task], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    const good = await t.pgq.enqueue(task, { orderId: 'o-3', cents: 250 })
    expect(await t.pgq.jobs.waitFor(good.id, { timeoutMs: 10_000 })).toEqual({ charged: 250 })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ orderId: 'o-3', cents: 250 })
    if (task.name !== 'order_arktype') expect(seen[0]).toEqual({ orderId: 'o-3', cents: 250, rush: false })
    // SQL enqueue runs no TypeScript: the worker's check is what catches it
    const bad = await t.pool.query(
      `SELECT "${t.schema}".enqueue($1, '{"orderId": "o-4", "cents": 2.5}', max_attempts => 3)::text AS id`,
      [task.name],
    )
    const row = await finished(bad.rows[0].id)
    expect(row).toMatchObject({ state: 'failed', attempts: 1, max_attempts: 3 })
    expect(row.errors[0]).toMatchObject({
      name: 'PermanentError',
      message: expect.stringMatching(/payload rejected by the task's schema: cents/),
    })
    expect(seen).toHaveLength(1)
  })
})

describe('resultSchema at run time', () => {
  it('stores the schema output; a result it rejects fails the job without retry', async () => {
    const task = defineTask({
      name: 'result_checked',
      maxAttempts: 3,
      schema: z.object({ n: z.number() }),
      resultSchema: z.object({ doubled: z.number().max(100) }).strip(),
      handler: (payload) => ({ doubled: payload.n * 2, extra: 'dropped' }),
    })
    const worker = t.pgq.createWorker({ tasks: [task], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    const ok = await t.pgq.enqueue(task, { n: 4 })
    expect(await t.pgq.jobs.waitFor(ok.id, { timeoutMs: 10_000 })).toEqual({ doubled: 8 })
    const tooBig = await t.pgq.enqueue(task, { n: 400 })
    const row = await finished(tooBig.id)
    expect(row).toMatchObject({ state: 'failed', attempts: 1 })
    expect(row.errors[0].message).toMatch(/result rejected by the task's resultSchema: doubled/)
  })

  it('refuses a schema that is not one, and schema together with parsePayload', () => {
    expect(() => defineTask({ name: 'x', schema: {} as never, handler: () => null })).toThrow(/task\.schema/)
    expect(() =>
      defineTask({
        name: 'x',
        schema: z.object({}),
        parsePayload: ((p: unknown) => p) as never,
        handler: () => null,
      } as never),
    ).toThrow(/schema or parsePayload/)
  })
})
