// enqueue on the transactions of the ORMs people use: Kysely, Knex, Drizzle (node-postgres) and a
// Prisma-shaped client. Each commits the app's write and the job together, or rolls both back.
// Prisma itself cannot run here: `prisma generate` downloads its schema engine from
// binaries.prisma.sh, which this machine cannot reach; the stand-in has the Prisma transaction
// client's `$queryRawUnsafe` / `$executeRawUnsafe` shape over a real pg client (int8 as BigInt, as
// Prisma returns it).
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgSchema, serial, text } from 'drizzle-orm/pg-core'
import knexFactory from 'knex'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
const workers: Worker[] = []
const noteTask = defineTask({ name: 'index_note', handler: async (_p: { note: string }) => null })

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(
    `CREATE TABLE "${t.schema}".notes (id serial PRIMARY KEY, text text NOT NULL, job_id bigint)`,
  )
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs; DELETE FROM "${t.schema}".notes`)
})
afterAll(async () => {
  await t.drop()
})

/** The notes and the jobs of the test schema, as the rows say. */
async function state() {
  const notes = await t.pool.query(`SELECT text FROM "${t.schema}".notes ORDER BY id`)
  const jobs = await t.pool.query(`SELECT task, payload FROM "${t.schema}".jobs ORDER BY id`)
  return { notes: notes.rows.map((r) => r.text), jobs: jobs.rows }
}

/** Runs `write` in the ORM's transaction, then throws to roll it back; returns what was thrown. */
async function rolledBack(run: (body: () => Promise<void>) => Promise<unknown>, write: () => Promise<void>) {
  return run(async () => {
    await write()
    throw new Error('roll back')
  }).catch((e: Error) => e.message)
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

  it('Prisma-shaped client ($queryRawUnsafe): commits with the transaction, rolls back with it', async () => {
    const client = new pg.Client({
      connectionString: t.url,
      // Prisma returns int8 as BigInt
      types: {
        getTypeParser: ((oid: number, format: 'text') =>
          oid === 20 ? BigInt : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    })
    await client.connect()
    interface PrismaTx {
      $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown[]>
      $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
      $transaction<T>(fn: (tx: PrismaTx) => Promise<T>): Promise<T>
    }
    const prisma: PrismaTx = {
      async $queryRawUnsafe(query: string, ...values: unknown[]) {
        return (await client.query(query, values)).rows
      },
      async $executeRawUnsafe(query: string, ...values: unknown[]) {
        return (await client.query(query, values)).rowCount ?? 0
      },
      async $transaction<T>(fn: (tx: PrismaTx) => Promise<T>): Promise<T> {
        await client.query('BEGIN')
        try {
          const value = await fn(prisma)
          await client.query('COMMIT')
          return value
        } catch (error) {
          await client.query('ROLLBACK')
          throw error
        }
      },
    }
    try {
      const job = await prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`INSERT INTO "${t.schema}".notes (text) VALUES ($1)`, 'prisma')
        return t.pgq.enqueue(noteTask, { note: 'prisma' }, { db: tx })
      })
      expect(job).toMatchObject({ id: expect.stringMatching(/^\d+$/), outcome: 'created' })
      const error = await rolledBack(
        (body) => prisma.$transaction(body),
        async () => {
          await prisma.$executeRawUnsafe(`INSERT INTO "${t.schema}".notes (text) VALUES ($1)`, 'nope')
          await t.pgq.enqueue(noteTask, { note: 'nope' }, { db: prisma })
        },
      )
      expect(error).toBe('roll back')
      expect(await state()).toEqual({
        notes: ['prisma'],
        jobs: [{ task: 'index_note', payload: { note: 'prisma' } }],
      })
    } finally {
      await client.end()
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
