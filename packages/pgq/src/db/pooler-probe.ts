import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Logger } from '../logger.js'
import { backendPid } from '../sql/pooler-queries.js'
import { transactionControl } from '../sql/transaction-queries.js'

/** What {@link probePooler} found out about the connections a pool opens. */
export interface PoolerProbe {
  /** Two client connections were served by the same server process: a transaction-mode pooler. */
  readonly transactionPooling: boolean
  /** A named prepared statement still worked once its server connection was taken by another client. */
  readonly preparedStatementsWork: boolean
}

/** SQLSTATE of `prepared statement "…" does not exist`. */
const INVALID_STATEMENT_NAME = '26000'

/**
 * @internal Finds out, on two short-lived connections of its own, whether the pool's connections
 * go through a transaction-mode pooler (PgBouncer `pool_mode = transaction`) and whether named
 * prepared statements survive it (PgBouncer ≥ 1.21 with `max_prepared_statements > 0` does that).
 * `SHOW pool_mode` is no help: PgBouncer answers it only on its admin database.
 *
 * A runs a named statement (server S), then B opens a transaction, which pins a server — a pooler
 * hands it the idle S; a plain server or a session pooler gives B its own. A runs the statement
 * again: through a pooler it lands on another server, where PgBouncer < 1.21 has never prepared it.
 *
 * ```ts
 * const { transactionPooling, preparedStatementsWork } = await probePooler(pool.options)
 * ```
 */
export async function probePooler(config: pg.ClientConfig, timeoutMs = 3_000): Promise<PoolerProbe> {
  const a = new pg.Client({ ...config, application_name: 'pgq_probe', connectionTimeoutMillis: timeoutMs })
  const b = new pg.Client({ ...config, application_name: 'pgq_probe', connectionTimeoutMillis: timeoutMs })
  for (const client of [a, b]) client.on('error', () => {})
  const name = `pgq_probe_${randomBytes(6).toString('hex')}`
  try {
    await Promise.all([a.connect(), b.connect()])
    const first = await backendPid(a, name)
    await transactionControl(b, 'BEGIN')
    const pinned = await backendPid(b)
    const transactionPooling = pinned === first
    let preparedStatementsWork = true
    try {
      await withTimeout(backendPid(a, name), timeoutMs)
    } catch (error) {
      // No server free for A within the time (pool_size 1): undecided, so take the safe side.
      if ((error as { code?: string }).code === INVALID_STATEMENT_NAME || error === TIMED_OUT) {
        preparedStatementsWork = false
      } else throw error
    }
    return { transactionPooling, preparedStatementsWork }
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})])
  }
}

const TIMED_OUT = new Error('pooler probe: timed out')

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(TIMED_OUT), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * @internal A worker's start-up check, for when `preparedStatements` was left unset: probes the
 * pool's connections and returns whether named prepared statements may be used. Behind a
 * transaction-mode pooler that loses them (PgBouncer < 1.21, or `max_prepared_statements = 0`) it
 * logs one warning and returns false, instead of an error on every claim. When LISTEN would go
 * through such a pooler too (`listensThroughPool`), it says so once. A failed probe keeps them.
 *
 * ```ts
 * const prepared = await checkPooler(pool, { logger, listensThroughPool: true })
 * ```
 */
export async function checkPooler(
  pool: pg.Pool,
  options: { readonly logger: Logger; readonly listensThroughPool: boolean },
): Promise<boolean> {
  const { logger, listensThroughPool } = options
  const config = (pool as unknown as { options?: pg.PoolConfig }).options ?? {}
  let probe: PoolerProbe
  try {
    probe = await probePooler(config)
  } catch (error) {
    logger.debug('pooler probe failed; keeping prepared statements', { error: (error as Error).message })
    return true
  }
  if (!probe.preparedStatementsWork) {
    logger.warn(
      'transaction-mode pooler detected (PgBouncer < 1.21 or max_prepared_statements = 0): ' +
        'named prepared statements are off for this worker; set preparedStatements: false ' +
        '(pgq work --no-prepared-statements) to skip this check',
    )
  }
  if (probe.transactionPooling && listensThroughPool) {
    logger.warn(
      'LISTEN goes through a transaction-mode pooler and will miss notifications: give ' +
        'listenConnectionString (pgq work --listen-url) a direct PostgreSQL URL; polling every pollIntervalMs meanwhile',
    )
  }
  return probe.preparedStatementsWork
}
