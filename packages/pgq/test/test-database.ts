// Each test file gets its own schema in the shared test database, migrated once, dropped at the end.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { createPgq, type Pgq } from '../src/client/pgq.js'
import { Migrator } from '../src/migrate/migrator.js'

export interface TestSchema {
  readonly url: string
  readonly schema: string
  readonly pool: pg.Pool
  readonly pgq: Pgq
  /** A new client of its own (closed by `drop`). */
  client(): Promise<pg.Client>
  /** Drops the schema and closes everything this helper opened. */
  drop(): Promise<void>
}

export function databaseUrl(): string {
  return inject('databaseUrl')
}

export function uniqueSchemaName(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}

/** Creates and migrates a fresh schema (unless `migrate: false`). */
export async function createTestSchema(options: { migrate?: boolean } = {}): Promise<TestSchema> {
  const url = databaseUrl()
  const schema = uniqueSchemaName()
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  pool.on('error', () => {})
  if (options.migrate !== false) await new Migrator({ pool, schema }).migrate()
  const pgq = createPgq({ pool, schema })
  const clients: pg.Client[] = []
  return {
    url,
    schema,
    pool,
    pgq,
    async client() {
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => {})
      await client.connect()
      clients.push(client)
      return client
    },
    async drop() {
      await Promise.all(clients.map((c) => c.end().catch(() => {})))
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.end()
    },
  }
}

/** What {@link waitFor} resolves with: the check's value once it is truthy. */
export type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  label = 'condition',
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs
  let delay = 5
  for (;;) {
    const value = await check()
    if (value) return value as Truthy<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`)
    await new Promise((resolve) => setTimeout(resolve, delay))
    delay = Math.min(delay * 2, 100)
  }
}
