// enqueue on the transactions of the ORMs people use: Kysely, Knex, Drizzle (node-postgres) and
// Prisma 7 (its `prisma-client` generator with the pg driver adapter; the client is generated in
// beforeAll, see prisma-client.ts). Each commits the app's write and the job together, or rolls
// both back.
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgSchema, serial, text } from 'drizzle-orm/pg-core'
import knexFactory from 'knex'
import { Kysely, PostgresDialect } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { chain, job, step } from '../src/workflow/canvas.js'
import { generatePrismaClient, type PrismaTestClient } from './prisma-client.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
let prismaGenerated: Awaited<ReturnType<typeof generatePrismaClient>>
const workers: Worker[] = []
const noteTask = defineTask({ name: 'index_note', handler: async (_p: { note: string }) => null })

beforeAll(async () => {
  // both at once; whichever succeeded is kept for afterAll to clean up
  const [schema, generated] = await Promise.allSettled([createTestSchema(), generatePrismaClient()])
  if (schema.status === 'fulfilled') t = schema.value
  if (generated.status === 'fulfilled') prismaGenerated = generated.value
  for (const result of [schema, generated]) if (result.status === 'rejected') throw result.reason
  await t.pool.query(
    `CREATE TABLE "${t.schema}".notes (id serial PRIMARY KEY, text text NOT NULL, job_id bigint)`,
  )
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs; DELETE FROM "${t.schema}".notes`)
})
afterAll(async () => {
  await Promise.all([t?.drop(), prismaGenerated?.remove()])
})

/** A real Prisma client on the test database, its `Note` model in the test's schema. */
function prismaClient(): PrismaTestClient {
  return prismaGenerated.connect(t.url, t.schema)
}

/** The notes and the jobs of the test schema, as the rows say. */
async function state() {
  const notes = await t.pool.query(`SELECT text FROM "${t.schema}".notes ORDER BY id`)
  const jobs = await t.pool.query(`SELECT task, payload FROM "${t.schema}".jobs ORDER BY id`)
  return { notes: notes.rows.map((r) => r.text), jobs: jobs.rows }
}

describe('enqueue on an ORM transaction', () => {
  it('Kysely: commits with the transaction, rolls back with it', async () => {
    const db = new Kysely<Record<string, { text: string }>>({
      dialect: new PostgresDialect({ pool: t.pool }),
    })
    await db.transaction().execute(async (trx) => {
      await trx.withSchema(t.schema).insertInto('notes').values({ text: 'kysely' }).execute()
      await t.pgq.enqueue(noteTask, { note: 'kysely' }, { db: trx })
    })
    const error = await db
      .transaction()
      .execute(async (trx) => {
        await trx.withSchema(t.schema).insertInto('notes').values({ text: 'nope' }).execute()
        await t.pgq.enqueue(noteTask, { note: 'nope' }, { db: trx })
        throw new Error('roll back')
      })
      .catch((e: Error) => e.message)
    expect(error).toBe('roll back')
    expect(await state()).toEqual({
      notes: ['kysely'],
      jobs: [{ task: 'index_note', payload: { note: 'kysely' } }],
    })
  })

  it('Knex: commits with the transaction, rolls back with it (enqueue and enqueueMany)', async () => {
    const knex = knexFactory({ client: 'pg', connection: t.url, pool: { min: 0, max: 2 } })
    try {
      await knex.transaction(async (trx) => {
        await trx.withSchema(t.schema).insert({ text: 'knex' }).into('notes')
        await t.pgq.enqueue(noteTask, { note: 'knex' }, { db: trx })
        await t.pgq.enqueueMany([{ task: noteTask, payload: { note: 'knex many' } }], { db: trx })
      })
      const error = await knex
        .transaction(async (trx) => {
          await trx.withSchema(t.schema).insert({ text: 'nope' }).into('notes')
          await t.pgq.enqueue(noteTask, { note: 'nope' }, { db: trx })
          throw new Error('roll back')
        })
        .catch((e: Error) => e.message)
      expect(error).toBe('roll back')
      await t.pgq.enqueue(noteTask, { note: 'knex instance' }, { db: knex })
      expect(await state()).toEqual({
        notes: ['knex'],
        jobs: [
          { task: 'index_note', payload: { note: 'knex' } },
          { task: 'index_note', payload: { note: 'knex many' } },
          { task: 'index_note', payload: { note: 'knex instance' } },
        ],
      })
    } finally {
      await knex.destroy()
    }
  })

  it('Drizzle (node-postgres): commits with the transaction, rolls back with it', async () => {
    const notes = pgSchema(t.schema).table('notes', {
      id: serial('id').primaryKey(),
      text: text('text').notNull(),
    })
    const db = drizzle(t.pool)
    await db.transaction(async (tx) => {
      await tx.insert(notes).values({ text: 'drizzle' })
      await t.pgq.enqueue(noteTask, { note: 'drizzle' }, { db: tx })
    })
    const error = await db
      .transaction(async (tx) => {
        await tx.insert(notes).values({ text: 'nope' })
        await t.pgq.enqueue(noteTask, { note: 'nope' }, { db: tx })
        throw new Error('roll back')
      })
      .catch((e: Error) => e.message)
    expect(error).toBe('roll back')
    // the database object itself works too (its own short transaction)
    await t.pgq.enqueue(noteTask, { note: 'drizzle db' }, { db })
    expect(await state()).toEqual({
      notes: ['drizzle'],
      jobs: [
        { task: 'index_note', payload: { note: 'drizzle' } },
        { task: 'index_note', payload: { note: 'drizzle db' } },
      ],
    })
  })

  it('Prisma 7 (pg driver adapter): commits with $transaction, rolls back with it; the client itself too', async () => {
    const prisma = prismaClient()
    try {
      const enqueued = await prisma.$transaction(async (tx) => {
        const created = await t.pgq.enqueue(noteTask, { note: 'prisma' }, { db: tx })
        await tx.note.create({ data: { text: 'prisma', jobId: BigInt(created.id) } })
        return created
      })
      expect(enqueued).toMatchObject({ id: expect.stringMatching(/^\d+$/), outcome: 'created' })
      const error = await prisma
        .$transaction(async (tx) => {
          await tx.note.create({ data: { text: 'nope' } })
          await t.pgq.enqueue(noteTask, { note: 'nope' }, { db: tx })
          throw new Error('roll back')
        })
        .catch((e: Error) => e.message)
      expect(error).toBe('roll back')
      // the client outside a transaction: the job commits on its own
      const outside = await t.pgq.enqueue(noteTask, { note: 'prisma client' }, { db: prisma })
      expect(outside).toMatchObject({ id: expect.stringMatching(/^\d+$/), outcome: 'created' })
      await t.pgq.enqueueMany([{ task: noteTask, payload: { note: 'prisma many' } }], { db: prisma })
      expect(await state()).toEqual({
        notes: ['prisma'],
        jobs: [
          { task: 'index_note', payload: { note: 'prisma' } },
          { task: 'index_note', payload: { note: 'prisma client' } },
          { task: 'index_note', payload: { note: 'prisma many' } },
        ],
      })
      // the app's write through Prisma's model API landed in the test schema's table
      expect(await prisma.note.findMany()).toEqual([
        { id: expect.any(Number), text: 'prisma', jobId: BigInt(enqueued.id) },
      ])
    } finally {
      await prisma.$disconnect()
    }
  })

  it('Prisma 7: the admin API reads and writes through it as through the pool (ids, dates, jsonb, arrays)', async () => {
    const prisma = prismaClient()
    try {
      const runAt = new Date('2031-05-04T03:02:01.123Z')
      const payload = { note: 'typed', n: 2 ** 53 - 1, nested: { list: [1, 'two', null] }, unicode: 'å∑😀' }
      const a = await t.pgq.enqueue(noteTask, payload, { db: prisma, runAt, priority: 7, dedupKey: 'k' })
      const b = await t.pgq.enqueue(noteTask, { note: 'other' }, { db: prisma, queue: 'side' })
      // get: bigint id parameter, timestamptz, jsonb and int columns as the pool reads them
      const viaPool = await t.pgq.jobs.get(a.id)
      expect(viaPool).toMatchObject({ id: a.id, payload, runAt, priority: 7, dedupKey: 'k' })
      expect(await t.pgq.jobs.get(a.id, { db: prisma })).toEqual(viaPool)
      expect(await t.pgq.jobs.get(BigInt(a.id), { db: prisma })).toEqual(viaPool)
      // list: text[] parameters (ids, states, tasks, queues), a timestamp parameter
      const filter = { ids: [a.id, b.id], state: ['available', 'running'], task: [noteTask.name] } as const
      const listed = await t.pgq.jobs.list(filter, { db: prisma })
      expect(listed).toEqual(await t.pgq.jobs.list(filter))
      expect(listed.map((j) => j.id)).toEqual([b.id, a.id])
      expect(await t.pgq.jobs.list({ queue: ['side'] }, { db: prisma })).toMatchObject([{ id: b.id }])
      expect(await t.pgq.jobs.list({ finishedBefore: new Date() }, { db: prisma })).toEqual([])
      // cancel in a Prisma transaction: rolled back, then committed
      const error = await prisma
        .$transaction(async (tx) => {
          expect(await t.pgq.jobs.cancel({ ids: [a.id] }, { db: tx })).toEqual({
            cancelled: 1,
            cancelRequested: 0,
          })
          throw new Error('roll back')
        })
        .catch((e: Error) => e.message)
      expect(error).toBe('roll back')
      expect((await t.pgq.jobs.get(a.id))?.state).toBe('available')
      await prisma.$transaction((tx) => t.pgq.jobs.cancel(a.id, { db: tx }))
      expect((await t.pgq.jobs.get(a.id))?.state).toBe('cancelled')
      // retry and delete over a filter (batched statements with a bigint cursor)
      expect(await t.pgq.jobs.retry({ state: 'cancelled' }, { db: prisma })).toEqual({ retried: 1 })
      expect((await t.pgq.jobs.get(a.id))?.state).toBe('available')
      expect(
        await t.pgq.jobs.delete({ ids: [a.id, BigInt(b.id)], state: 'available' }, { db: prisma }),
      ).toEqual({ deleted: 2 })
      expect(await t.pgq.jobs.list()).toEqual([])
      // a workflow created in a Prisma transaction: its nodes roll back with it, or commit with it
      const flow = () => chain(job(noteTask, { note: 'first' }), step<null, null>('index_note'))
      const wfError = await prisma
        .$transaction(async (tx) => {
          await t.pgq.workflows.create(flow(), { db: tx })
          throw new Error('roll back')
        })
        .catch((e: Error) => e.message)
      expect(wfError).toBe('roll back')
      expect(await t.pgq.jobs.list()).toEqual([])
      const wf = await prisma.$transaction((tx) => t.pgq.workflows.create(flow(), { db: tx }))
      expect(wf).toEqual({
        id: expect.stringMatching(/^\d+$/),
        jobIds: [expect.any(String), expect.any(String)],
      })
      expect((await t.pgq.workflows.get(wf.id))?.nodes.map((n) => [n.id, n.state])).toEqual([
        [wf.jobIds[0], 'available'],
        [wf.jobIds[1], 'blocked'],
      ])
    } finally {
      await prisma.$disconnect()
    }
  })

  it('ctx.transaction: a Drizzle database on tx writes and enqueues in the job-completing transaction', async () => {
    const notes = pgSchema(t.schema).table('notes', {
      id: serial('id').primaryKey(),
      text: text('text').notNull(),
      jobId: integer('job_id'),
    })
    const follow = defineTask({ name: 'follow_up', handler: async () => null })
    const task = defineTask({
      name: 'drizzle_in_ctx',
      handler: (payload: { note: string }, ctx) =>
        ctx.transaction(async (tx) => {
          const db = drizzle(tx)
          await db.insert(notes).values({ text: payload.note, jobId: Number(ctx.jobId) })
          await t.pgq.enqueue(follow, {}, { db, runAt: new Date(Date.now() + 3_600_000) })
          const [row] = (await db.execute(sql`SELECT count(*)::int AS n FROM ${notes}`)).rows
          return row as { n: number }
        }),
    })
    const worker = t.pgq.createWorker({ tasks: [task], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    const { id } = await t.pgq.enqueue(task, { note: 'in ctx' })
    expect(await t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).toEqual({ n: 1 })
    const rows = await t.pool.query(`SELECT text, job_id::text FROM "${t.schema}".notes`)
    expect(rows.rows).toEqual([{ text: 'in ctx', job_id: id }])
    const followUps = await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE task = 'follow_up'`)
    expect(followUps.rows).toEqual([{ state: 'available' }])
  })

  it('refuses a value that cannot run a statement', async () => {
    await expect(t.pgq.enqueue(noteTask, { note: 'x' }, { db: {} as never })).rejects.toBeInstanceOf(
      PgqValidationError,
    )
  })
})
