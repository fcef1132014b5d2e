// The application's own tables (not pgq's): videos, thumbnails, users, an e-mail outbox and temp files.
// They live in their own schema so the example can share a database with anything else.
import type pg from 'pg'

/** The app's tables, qualified with its schema (validated, so safe to put in SQL text). */
export interface AppTables {
  readonly schema: string
  readonly videos: string
  readonly users: string
  readonly outbox: string
  readonly tempFiles: string
  readonly thumbnails: string
}

/**
 * Names of the app's tables in `schema` (default `video_app`).
 *
 * ```ts
 * const tables = appTables('video_app')
 * await pool.query(`SELECT status FROM ${tables.videos} WHERE id = $1`, [42])
 * ```
 */
export function appTables(schema = 'video_app'): AppTables {
  // Validated here, so the names are safe to put in SQL text: a plain lower-case identifier.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`bad schema name: ${JSON.stringify(schema)}`)
  const q = `"${schema}"`
  return Object.freeze({
    schema,
    videos: `${q}.videos`,
    users: `${q}.users`,
    outbox: `${q}.outbox`,
    tempFiles: `${q}.temp_files`,
    thumbnails: `${q}.thumbnails`,
  })
}

/**
 * Creates the app's tables if they do not exist (idempotent; a real app would use its migration tool).
 *
 * ```ts
 * await migrateApp(pool, appTables())
 * ```
 */
export async function migrateApp(pool: pg.Pool, tables: AppTables): Promise<void> {
  await pool.query(`
    CREATE SCHEMA IF NOT EXISTS "${tables.schema}";
    CREATE TABLE IF NOT EXISTS ${tables.videos} (
      id bigint PRIMARY KEY,
      status text NOT NULL DEFAULT 'uploaded',
      renditions text[] NOT NULL DEFAULT '{}',
      processed_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    -- the pipeline (src/pipeline.ts): its workflow, and what publishing wrote
    ALTER TABLE ${tables.videos} ADD COLUMN IF NOT EXISTS workflow_id bigint;
    ALTER TABLE ${tables.videos} ADD COLUMN IF NOT EXISTS thumbnails text[] NOT NULL DEFAULT '{}';
    ALTER TABLE ${tables.videos} ADD COLUMN IF NOT EXISTS published_at timestamptz;
    CREATE TABLE IF NOT EXISTS ${tables.thumbnails} (
      video_id bigint NOT NULL,
      position real NOT NULL,
      url text NOT NULL,
      PRIMARY KEY (video_id, position)
    );
    CREATE TABLE IF NOT EXISTS ${tables.users} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      email text NOT NULL UNIQUE,
      crm_synced_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ${tables.outbox} (
      user_id bigint NOT NULL,
      kind text NOT NULL,
      sent_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, kind)
    );
    CREATE TABLE IF NOT EXISTS ${tables.tempFiles} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      video_id bigint NOT NULL,
      path text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `)
}
