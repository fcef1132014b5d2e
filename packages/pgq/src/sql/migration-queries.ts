import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

/** A two-key advisory lock namespace for pgq's migrations ("pgqm"), so it never collides with app locks. */
const MIGRATION_LOCK_NAMESPACE = 0x7067716d

/** @internal Waits for the schema's migration lock; released at the end of the transaction. */
export async function lockMigrations(db: Executor, names: SchemaNames): Promise<void> {
  await runQuery(db, 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [
    MIGRATION_LOCK_NAMESPACE,
    names.schema,
  ])
}

/** @internal Creates the schema and its migrations table if they are missing. Run under the lock. */
export async function ensureMigrationsTable(db: Executor, names: SchemaNames): Promise<void> {
  await runQuery(db, `CREATE SCHEMA IF NOT EXISTS ${names.quoted}`)
  await runQuery(
    db,
    `CREATE TABLE IF NOT EXISTS ${names.migrations} (
       version integer PRIMARY KEY,
       name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  )
}

/** @internal An applied migration as recorded in the database. */
export interface AppliedMigrationRow {
  version: number
  name: string
  applied_at: Date
}

/** @internal Applied migrations, or an empty list when the schema or table does not exist yet. */
export async function listAppliedMigrations(
  db: Executor,
  names: SchemaNames,
): Promise<AppliedMigrationRow[]> {
  const exists = await runQuery<{ found: boolean }>(db, 'SELECT to_regclass($1) IS NOT NULL AS found', [
    names.migrations,
  ])
  if (!exists.rows[0]?.found) return []
  const result = await runQuery<AppliedMigrationRow>(
    db,
    `SELECT version, name, applied_at FROM ${names.migrations} ORDER BY version`,
  )
  return result.rows
}

/** @internal */
export async function recordMigration(
  db: Executor,
  names: SchemaNames,
  version: number,
  name: string,
): Promise<void> {
  await runQuery(db, `INSERT INTO ${names.migrations} (version, name) VALUES ($1, $2)`, [version, name])
}
