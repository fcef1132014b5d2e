import pg from 'pg'
import { assertSchemaName } from '../db/identifiers.js'
import { PgqValidationError } from '../errors.js'
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../task/payload.js'

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
}

/** @internal The validated, frozen form of {@link PgqOptions}. */
export interface PgqConfig {
  readonly pool: pg.Pool
  readonly ownsPool: boolean
  readonly connectionString: string | undefined
  readonly schema: string
  readonly maxPayloadBytes: number
  readonly listenConnectionString: string | undefined
}

const KNOWN = new Set([
  'pool',
  'connectionString',
  'poolSize',
  'schema',
  'maxPayloadBytes',
  'listenConnectionString',
])

/** @internal */
export function resolveConfig(options: PgqOptions): PgqConfig {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new PgqValidationError(key, `unknown option; known: ${[...KNOWN].join(', ')}`)
  }
  if (!options.pool === !options.connectionString) {
    throw new PgqValidationError('pool', 'give exactly one of pool or connectionString')
  }
  const schema = assertSchemaName(options.schema ?? 'pgq')
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 2 || maxPayloadBytes > 64 * 1024 * 1024) {
    throw new PgqValidationError('maxPayloadBytes', 'must be an integer from 2 to 67108864', maxPayloadBytes)
  }
  const listen = options.listenConnectionString
  if (listen !== undefined && (typeof listen !== 'string' || listen === '')) {
    throw new PgqValidationError('listenConnectionString', 'must be a PostgreSQL URL', listen)
  }
  const poolSize = options.poolSize ?? 10
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw new PgqValidationError('poolSize', 'must be an integer from 1 to 1000', poolSize)
  }
  const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: poolSize })
  if (!options.pool) {
    // An idle client that dies (server restart, network) must not crash the process; the pool replaces it.
    pool.on('error', () => {})
  }
  return Object.freeze({
    pool,
    ownsPool: !options.pool,
    connectionString: options.connectionString,
    schema,
    maxPayloadBytes,
    listenConnectionString: listen,
  })
}
