// How a long-running command (`pgq work`, `pgq dev`) lives and ends: it holds the event loop until
// SIGINT/SIGTERM, stops gracefully on the first signal (exit 0), and otherwise exits only on a
// fatal condition, with one of the documented exit codes (docs/operations.md#exit-codes).
import { type Logger, PgqError, PgqSchemaVersionError } from '@pgq/core'

/**
 * The exit codes of the `pgq` command (the BSD `sysexits.h` values where one fits).
 *
 * ```ts
 * process.exitCode = EXIT_CODES.config // the schema is not migrated
 * ```
 */
export const EXIT_CODES = Object.freeze({
  /** Stopped by SIGINT/SIGTERM after a graceful stop, or a short command that succeeded. */
  ok: 0,
  /** A short command failed (a job not found, a refused input, …); `pgq health`: a check failed. */
  failed: 1,
  /** Bad command line: unknown option, bad value, missing required option or database URL. */
  usage: 64,
  /** The database could not be reached at start within `--connect-timeout`. */
  unavailable: 69,
  /** A bug or an unexpected error (an uncaught exception, a graceful stop that never ended). */
  internal: 70,
  /** The setup is wrong: the schema is not migrated, the tasks module cannot be loaded or exports no tasks. */
  config: 78,
})

/**
 * An error that ends the command with a given exit code and one line on stderr.
 *
 * ```ts
 * throw new CliExit(EXIT_CODES.usage, '--concurrency must be an integer, got "x"')
 * ```
 */
export class CliExit extends Error {
  readonly exitCode: number
  constructor(exitCode: number, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CliExit'
    this.exitCode = exitCode
  }
}

/** Error codes of node/pg that mean "the server cannot be reached or dropped us". */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
])
/** SQLSTATEs of a server that is starting, stopping or refusing connections for now. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006'])

/**
 * True when `error` says the database is unreachable for now (connection refused or reset, the
 * server starting up or shutting down, too many connections) rather than that the setup is wrong.
 *
 * ```ts
 * if (isConnectionError(error)) retryLater()
 * ```
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && (CONNECTION_ERRORS.has(code) || UNAVAILABLE_STATES.has(code))) return true
  const message = error instanceof Error ? error.message : ''
  return /Connection terminated|connection timeout|timeout expired|server closed the connection/i.test(
    message,
  )
}

/**
 * The exit code and the one line a failed command prints for `error`.
 *
 * ```ts
 * const { code, line } = exitFor(new PgqSchemaVersionError('pgq', 0, 12)) // code 78
 * ```
 */
export function exitFor(error: unknown): { code: number; line: string } {
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof CliExit) return { code: error.exitCode, line: message }
  if (error instanceof PgqSchemaVersionError) return { code: EXIT_CODES.config, line: message }
  if (isConnectionError(error))
    return { code: EXIT_CODES.unavailable, line: `database unreachable: ${message}` }
  if (error instanceof PgqError) return { code: EXIT_CODES.failed, line: message }
  const sqlState = (error as { code?: unknown }).code
  // 42P01 undefined_table, 42883 undefined_function, 3F000 no such schema: pgq's schema is missing
  if (sqlState === '42P01' || sqlState === '42883' || sqlState === '3F000') {
    return {
      code: EXIT_CODES.config,
      line: `${message}: the database is not migrated; run \`pgq migrate\` (same --database-url and --schema)`,
    }
  }
  // SQLSTATE class 28 (bad password/role) and 3D000 (no such database): the URL is wrong.
  if (typeof sqlState === 'string' && (/^28/.test(sqlState) || sqlState === '3D000')) {
    return { code: EXIT_CODES.config, line: `database refused the connection settings: ${message}` }
  }
  return { code: EXIT_CODES.failed, line: message }
}

let jsonFatalLines = false

/** Makes {@link exitWith} write its line as a JSON log line (`--log-format json`). */
export function useJsonFatalLines(): void {
  jsonFatalLines = true
}

/** Writes the one line of a fatal condition and exits with its code. */
export function exitWith(code: number, line: string): never {
  process.stderr.write(
    jsonFatalLines
      ? `${JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, name: 'pgq', msg: line, exit_code: code })}\n`
      : `pgq: ${line} (exit ${code})\n`,
  )
  process.exit(code)
}

let stoppingOnSignal = false

/**
 * True once a signal started the graceful stop: a connection error thrown then by the app's own
 * code (an idle client of a tasks module's pool, cut by the dev database stopping) is expected.
 *
 * ```ts
 * if (stopping() && isConnectionError(error)) return // not a crash
 * ```
 */
export function stopping(): boolean {
  return stoppingOnSignal
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 }

/** Options of {@link holdUntilSignal}. */
export interface HoldOptions {
  /** The graceful stop run on the first signal (stop the worker, close the pool, …). */
  readonly stop: (signal: NodeJS.Signals) => Promise<void>
  /** Where "second signal" is logged (the stop logs its own lines). */
  readonly logger: Logger
  /** The graceful stop may take this long before the process gives up and exits 70. */
  readonly stopDeadlineMs: number
}

/**
 * Keeps the process alive until SIGINT or SIGTERM, whatever happens to its connections: a ref'd
 * timer holds the event loop, because a worker whose pool lost every connection (a server restart,
 * `pg_terminate_backend`, an outage) may otherwise have nothing left that keeps Node running. The
 * first signal runs `stop` and exits 0; a second one exits at once (130 for SIGINT, 143 for SIGTERM).
 *
 * ```ts
 * holdUntilSignal({ stop: async () => { await worker.stop(); await pool.end() }, logger, stopDeadlineMs: 20_000 })
 * ```
 */
export function holdUntilSignal(options: HoldOptions): void {
  const keepAlive = setInterval(() => {}, 2 ** 30)
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.logger.warn('second signal: exiting now', { signal })
      process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 0))
    }
    stopping = true
    stoppingOnSignal = true
    const deadline = setTimeout(
      () => exitWith(EXIT_CODES.internal, `graceful stop did not end within ${options.stopDeadlineMs} ms`),
      options.stopDeadlineMs,
    )
    options.stop(signal).then(
      () => {
        clearTimeout(deadline)
        clearInterval(keepAlive)
        process.exit(EXIT_CODES.ok)
      },
      (error: unknown) => exitWith(EXIT_CODES.internal, `graceful stop failed: ${String(error)}`),
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

/**
 * Exits with the documented code when a worker stops by itself: its `closed` promise (from
 * `worker.start()`) rejects on a fatal condition, e.g. a {@link PgqSchemaVersionError} when the
 * schema was migrated under it (78). A plain resolve means `stop()` ran, which the signal path
 * handles. Undefined (no worker, as in `pgq dev` without tasks) watches nothing.
 *
 * ```ts
 * exitWhenClosed((await worker.start()).closed)
 * ```
 */
export function exitWhenClosed(closed: Promise<void> | undefined): void {
  closed?.catch((error: unknown) => {
    const { code, line } = exitFor(error)
    exitWith(code === EXIT_CODES.failed ? EXIT_CODES.internal : code, `worker stopped: ${line}`)
  })
}
