import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Logger, type Pgq, PgqValidationError } from '@pgq/core'
import { assertOptions, optionKeys, silentLogger, toLogger } from '@pgq/core/internal'

/**
 * Options of {@link createDashboard}.
 *
 * ```ts
 * const dashboard = createDashboard({ pgq, basePath: '/admin/pgq', readOnly: true })
 * ```
 */
export interface DashboardOptions {
  /** The pgq client whose schema the dashboard shows (its pool runs the queries, its notifier feeds live updates). */
  readonly pgq: Pgq
  /** Where the dashboard is mounted, e.g. `/admin/pgq` (default: the root, `''`). */
  readonly basePath?: string
  /** Show everything, change nothing: every action is refused with 403 and no button is drawn (default false). */
  readonly readOnly?: boolean
  /** Served at `<basePath>/metrics` when given (e.g. a Prometheus handler). */
  readonly metrics?: (req: IncomingMessage, res: ServerResponse) => Promise<void>
  /** Where unexpected errors (a failed query behind a 500 page) are logged (default: nowhere). */
  readonly logger?: Logger
}

/**
 * The validated, frozen configuration, as `dashboard.config` exposes it.
 *
 * ```ts
 * const { basePath, readOnly } = createDashboard({ pgq, basePath: '/admin/pgq/' }).config // '/admin/pgq', false
 * ```
 */
export interface DashboardConfig {
  readonly pgq: Pgq
  readonly basePath: string
  readonly readOnly: boolean
  readonly metrics: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null
  readonly logger: Logger
}

const KNOWN = optionKeys<DashboardOptions>({
  pgq: true,
  basePath: true,
  readOnly: true,
  metrics: true,
  logger: true,
})
const BASE_PATH = /^(\/[A-Za-z0-9._~-]+)*$/

/** Validates the options (throws `PgqValidationError` naming the bad one) and freezes them. */
export function resolveConfig(options: DashboardOptions): DashboardConfig {
  assertOptions(options, KNOWN, 'dashboard.')
  const { pgq, readOnly = false, metrics } = options
  if (!pgq || typeof pgq.jobs !== 'object' || typeof pgq.notifier !== 'function') {
    throw new PgqValidationError('dashboard.pgq', 'must be a pgq client from createPgq()', pgq)
  }
  const basePath = (options.basePath ?? '').replace(/\/+$/, '')
  if (!BASE_PATH.test(basePath)) {
    throw new PgqValidationError(
      'dashboard.basePath',
      'must be a path such as "/admin/pgq" (segments of A-Z a-z 0-9 . _ ~ -)',
      options.basePath,
    )
  }
  if (typeof readOnly !== 'boolean') {
    throw new PgqValidationError('dashboard.readOnly', 'must be a boolean', readOnly)
  }
  if (metrics !== undefined && typeof metrics !== 'function') {
    throw new PgqValidationError(
      'dashboard.metrics',
      'must be a function (req, res) => Promise<void>',
      metrics,
    )
  }
  const logger = toLogger(options.logger ?? silentLogger)
  if (typeof logger?.error !== 'function') {
    throw new PgqValidationError(
      'dashboard.logger',
      'must be a pgq Logger (debug, info, warn, error)',
      logger,
    )
  }
  return Object.freeze({ pgq, basePath, readOnly, metrics: metrics ?? null, logger })
}
