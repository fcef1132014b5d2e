import pg from 'pg'
import { assertSchemaName } from '../db/identifiers.js'
import { guardPoolClients } from '../db/pool-guard.js'
import { PgqValidationError } from '../errors.js'
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../task/payload.js'
import { assertBoolean, assertInt, assertOptions, MAX_TIMER_MS, optionKeys } from '../util/validate.js'

/** Options of {@link createPgq}. Give a `pool` you own, or a `connectionString` for a pool pgq owns. */
export interface PgqOptions {
  /** Your `pg.Pool`; pgq never ends it. */
  readonly pool?: pg.Pool
  /** A PostgreSQL URL; pgq creates (and on `close()` ends) its own pool. */
  readonly connectionString?: string
  /** Pool size when pgq creates the pool (default 10). */
  readonly poolSize?: number
  /** Schema holding pgq's tables (default `pgq`). */
  readonly schema?: string
  /** Largest payload and result accepted, in bytes of JSON (default 262,144). */
  readonly maxPayloadBytes?: number
  /**
   * A direct PostgreSQL URL for the client's one LISTEN connection (worker wake-ups, cancellation,
   * `waitFor`), when the pool goes through a transaction-mode pooler such as PgBouncer
   * (default: the pool's own URL).
   */
  readonly listenConnectionString?: string
  /**
   * Fallback poll interval of `pgq.jobs.waitFor`, in ms (default 5,000). Notifications settle waits
   * sooner; lower it where LISTEN does not reach the waiter (PgBouncer in transaction mode).
   */
  readonly resultPollIntervalMs?: number
  /**
   * OpenTelemetry tracing of enqueue and runs (docs/observability.md#tracing-opentelemetry).
   * Default `true`: on when `@opentelemetry/api` is installed and a tracer provider is registered,
   * a no-op otherwise. `false` turns it off even then.
   */
  readonly tracing?: boolean
  /**
   * `pgq.enqueue` and `enqueueMany` of jobs without dedup keys on pgq's pool run as a named prepared
   * statement, planned once per connection (default `true`): a lone job as fast as a bare INSERT. Behind PgBouncer < 1.21 in transaction
   * mode the first lost statement turns them off with one warning line; `false` skips that.
   * Enqueues on your own executor (`{ db }`) are never prepared.
   */
  readonly preparedStatements?: boolean
}

/** @internal The validated, frozen form of {@link PgqOptions}. */
export interface PgqConfig {
  readonly pool: pg.Pool
  readonly ownsPool: boolean
  readonly connectionString: string | undefined
  readonly schema: string
  readonly maxPayloadBytes: number
  readonly listenConnectionString: string | undefined
  readonly resultPollIntervalMs: number
  readonly tracing: boolean
  readonly preparedStatements: boolean
}

const KNOWN = optionKeys<PgqOptions>({
  pool: true,
  connectionString: true,
  poolSize: true,
  schema: true,
  maxPayloadBytes: true,
  listenConnectionString: true,
  resultPollIntervalMs: true,
  tracing: true,
  preparedStatements: true,
})

/** @internal */
export function resolveConfig(options: PgqOptions): PgqConfig {
  assertOptions(options, KNOWN)
  if (!options.pool === !options.connectionString) {
    throw new PgqValidationError('pool', 'give exactly one of pool or connectionString')
  }
  const schema = assertSchemaName(options.schema ?? 'pgq')
  const maxPayloadBytes = assertInt(
    options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    'maxPayloadBytes',
    2,
    64 * 1024 * 1024,
  )
  const listen = options.listenConnectionString
  if (listen !== undefined && (typeof listen !== 'string' || listen === '')) {
    throw new PgqValidationError('listenConnectionString', 'must be a PostgreSQL URL', listen)
  }
  const poolSize = assertInt(options.poolSize ?? 10, 'poolSize', 1, 1000)
  const resultPollIntervalMs = assertInt(
    options.resultPollIntervalMs ?? 5_000,
    'resultPollIntervalMs',
    1,
    MAX_TIMER_MS,
  )
  const tracing = options.tracing ?? true
  if (typeof tracing !== 'boolean') {
    throw new PgqValidationError('tracing', 'must be a boolean', tracing)
  }
  const preparedStatements = assertBoolean(options.preparedStatements ?? true, 'preparedStatements')
  const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: poolSize })
  if (!options.pool) {
    // An idle client that dies (server restart, network) must not crash the process; the pool replaces it.
    pool.on('error', () => {})
  }
  guardPoolClients(pool)
  return Object.freeze({
    pool,
    ownsPool: !options.pool,
    connectionString: options.connectionString,
    schema,
    maxPayloadBytes,
    listenConnectionString: listen,
    resultPollIntervalMs,
    tracing,
    preparedStatements,
  })
}
