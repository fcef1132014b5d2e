// Samples of docs/enqueue.md, "ORMs": enqueue inside the transactions of Drizzle, Knex, Kysely and Prisma.

import { createPgq, defineTask } from '@pgq/core'
import { PrismaPg } from '@prisma/adapter-pg'
import { drizzle } from 'drizzle-orm/node-postgres'
import { pgTable, serial, text } from 'drizzle-orm/pg-core'
import knexFactory from 'knex'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
const pgq = createPgq({ pool })
const welcomeEmail = defineTask({ name: 'welcome_email', handler: async (_p: { email: string }) => {} })
const users = pgTable('users', { id: serial('id').primaryKey(), email: text('email').notNull() })
// The client `prisma generate` writes for the schema's `generator client { provider = "prisma-client" }`
// (its User model only): generated per app, so declared here. pgq's test generates a real one.
interface PrismaTx {
  user: { create(args: { data: { email: string } }): Promise<unknown> }
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>
}
declare class PrismaClient implements PrismaTx {
  constructor(options: { adapter: PrismaPg })
  user: PrismaTx['user']
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>
  $transaction<T>(fn: (tx: PrismaTx) => Promise<T>): Promise<T>
}

// #region drizzle
const db = drizzle(pool)
await db.transaction(async (tx) => {
  await tx.insert(users).values({ email: 'ada@example.com' })
  await pgq.enqueue(welcomeEmail, { email: 'ada@example.com' }, { db: tx })
})
// #endregion drizzle

// #region knex
const knex = knexFactory({ client: 'pg', connection: process.env.DATABASE_URL })
await knex.transaction(async (trx) => {
  await trx('users').insert({ email: 'ada@example.com' })
  await pgq.enqueue(welcomeEmail, { email: 'ada@example.com' }, { db: trx })
})
// #endregion knex

// #region prisma
// import { PrismaClient } from './generated/prisma/client.js'
// import { PrismaPg } from '@prisma/adapter-pg'
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }) })
await prisma.$transaction(async (tx) => {
  await tx.user.create({ data: { email: 'ada@example.com' } })
  await pgq.enqueue(welcomeEmail, { email: 'ada@example.com' }, { db: tx })
})
// #endregion prisma
