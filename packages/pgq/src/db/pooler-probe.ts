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
 * hands it the idle S (up to five tries); a plain server or a session pooler gives B its own. A
 * runs the statement again while B holds S: through a pooler it lands on another server, where
 * PgBouncer < 1.21 has never prepared it.
 *
 * ```ts
 * const { transactionPooling, preparedStatementsWork } = await probePooler(pool.options)
 * ```
 */
export async function probePooler(config: pg.ClientConfig, timeoutMs = 3_000): Promise<PoolerProbe> {
  // query_timeout bounds every step (a pooler with no free server): the probe then fails, and the
  // worker keeps its setting, guarded by StatementMode.
  const own = {
    application_name: 'pgq_probe',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs * 2,
  }
  const a = new pg.Client({ ...config, ...own })
  const b = new pg.Client({ ...config, ...own })
  for (const client of [a, b]) client.on('error', () => {})
  const name = `pgq_probe_${randomBytes(6).toString('hex')}`
  try {
    await Promise.all([a.connect(), b.connect()])
    // B pins a server in a transaction; through a pooler it soon gets A's (other clients may hold
    // it for a moment, hence a few tries). Directly, it never does, and the tries cost a few ms.
    let transactionPooling = false
    for (let attempt = 0; attempt < 5 && !transactionPooling; attempt++) {
      const first = await runNamed(a, name, timeoutMs)
      if (first === LOST) return { transactionPooling: true, preparedStatementsWork: false }
      await transactionControl(b, 'BEGIN')
      transactionPooling = (await backendPid(b)) === first
      if (!transactionPooling) await transactionControl(b, 'ROLLBACK')
    }
    // No server free for A within the time (pool_size 1) counts as lost: the safe side.
    const again = await runNamed(a, name, timeoutMs)
    return { transactionPooling, preparedStatementsWork: again !== LOST }
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})])
  }
}

const TIMED_OUT = new Error('pooler probe: timed out')
const LOST = Symbol('lost')

/** A's named statement: the backend pid, or LOST when it vanished (or no server came in time). */
async function runNamed(client: pg.Client, name: string, timeoutMs: number): Promise<number | typeof LOST> {
  try {
    return await withTimeout(backendPid(client, name), timeoutMs)
  } catch (error) {
    if (error === TIMED_OUT || (error as { code?: string }).code === INVALID_STATEMENT_NAME) return LOST
    throw error
  }
}

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
