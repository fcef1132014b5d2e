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

/** A pool for the command's connection options; exits with a clear message when no URL is given. */
export function openPool(options: ConnectionOptions, max = 4, extra: pg.PoolConfig = {}): pg.Pool {
  const connectionString = options.databaseUrl ?? process.env.DATABASE_URL
  if (!connectionString) {
    throw new CliExit(EXIT_CODES.usage, 'no database: pass --database-url or set DATABASE_URL')
  }
  const pool = new pg.Pool({ ...extra, connectionString, max })
  pool.on('error', () => {})
  return pool
}

/** Prints `value` as JSON (for `--json`) or via `text`. */
export function output(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`)
}
