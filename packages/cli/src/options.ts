import type { Command } from 'commander'
import pg from 'pg'
import { CliExit, EXIT_CODES } from './lifetime.js'

/** Connection options shared by every command. */
export interface ConnectionOptions {
  readonly databaseUrl?: string
  readonly schema: string
}

/** Adds `--database-url` and `--schema` to a command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
    .option('--schema <name>', 'schema holding pgq tables', process.env.PGQ_SCHEMA ?? 'pgq')
}

/**
 * Refuses (exit 64, one line) a database URL that is not a `postgres://` or `postgresql://` URL,
 * before `pg` reads it as a host name. The line repeats the value without its credentials.
 *
 * ```ts
 * assertDatabaseUrl('not-a-url', '--database-url') // throws CliExit: --database-url "not-a-url" is not …
 * ```
 */
export function assertDatabaseUrl(value: string, source: string): void {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (url && /^postgres(ql)?:\/\//.test(value)) return
  const shown = value.replace(/^([\w+.-]+:\/*)?[^@]*@/, '$1…@') // never echo a password
  throw new CliExit(
    EXIT_CODES.usage,
    `${source} "${shown}" is not a PostgreSQL URL: expected postgres://user:password@host:5432/database`,
  )
}

/**
 * The database URL of the command (`--database-url`, else `$DATABASE_URL`), checked: a usage error
 * (exit 64) when there is none or it is not a PostgreSQL URL.
 *
 * ```ts
 * const url = connectionStringOf({ schema: 'pgq' }) // $DATABASE_URL
 * ```
 */
export function connectionStringOf(options: ConnectionOptions): string {
  const connectionString = options.databaseUrl ?? process.env.DATABASE_URL
  if (!connectionString) {
    throw new CliExit(EXIT_CODES.usage, 'no database: pass --database-url or set DATABASE_URL')
  }
  assertDatabaseUrl(connectionString, options.databaseUrl ? '--database-url' : 'DATABASE_URL')
  return connectionString
}

/** A pool for the command's connection options; exits with a clear message when no URL is given. */
export function openPool(options: ConnectionOptions, max = 4, extra: pg.PoolConfig = {}): pg.Pool {
  const connectionString = connectionStringOf(options)
  const pool = new pg.Pool({ ...extra, connectionString, max })
  pool.on('error', () => {})
  return pool
}

/** Prints `value` as JSON (for `--json`) or via `text`. */
export function output(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`)
}
