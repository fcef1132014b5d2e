// Samples of docs/schema.md (regions are copied into the page by scripts/sync-doc-snippets.mjs and
// typechecked here by `tsc -b`): querying pgq's tables with Kysely, type-safely.

// #region kysely-tables
import type { PgqDatabase } from '@pgq/core'
import { Kysely, PostgresDialect } from 'kysely'

interface AppDatabase {
  orders: { id: number; total: number; job_id: string | null }
}

// your tables and pgq's ('pgq.jobs', 'pgq.schedules', …; PgqDatabase<'jobs_schema'> for another schema)
const db = new Kysely<AppDatabase & PgqDatabase>({ dialect: new PostgresDialect({ pool }) })

// failed jobs with the order that enqueued them; every column and its type is checked
const failed = await db
  .selectFrom('pgq.jobs')
  .innerJoin('orders', 'orders.job_id', 'pgq.jobs.id')
  .select(['pgq.jobs.id', 'pgq.jobs.task', 'pgq.jobs.finished_at', 'orders.total'])
  .where('pgq.jobs.state', '=', 'failed')
  .orderBy('pgq.jobs.finished_at', 'desc')
  .limit(20)
  .execute()
// failed: { id: string; task: string; finished_at: Date | null; total: number }[]

// the inspection views are read-only tables
const lag = await db.selectFrom('pgq.queue_lag').selectAll().execute()
// #endregion kysely-tables
console.log(failed.length, lag.length)

import { pool } from './stubs.js'
