import type { OutageLog } from '../util/outage-log.js'

/**
 * What a probe asks of a worker (`worker.health`): is it running, and has the database answered
 * lately. `pgq work --http-port` serves `live` as `/healthz` and `ready` as `/readyz`.
 *
 * ```ts
 * const { live, ready } = worker.health
 * res.statusCode = ready ? 200 : 503
 * ```
 */
export interface WorkerHealth {
  readonly state: 'new' | 'running' | 'stopping' | 'stopped'
  /** Running: not stopping, not stopped by a fatal error. */
  readonly live: boolean
  /** Live, no database outage going on, and the database answered within 3 heartbeats (≥ 15 s). */
  readonly ready: boolean
  /** When the database last answered one of the worker's statements (heartbeat, claim, write…). */
  readonly lastDatabaseSuccessAt: Date | null
  /** The message of the error that stopped the worker by itself, or null. */
  readonly fatal: string | null
}

/** @internal Computes a worker's {@link WorkerHealth} from its state and its outage log. */
export function readHealth(
  state: WorkerHealth['state'],
  outage: OutageLog,
  heartbeatMs: number,
  fatal: Error | undefined,
): WorkerHealth {
  const last = outage.lastSucceededAt
  const freshMs = Math.max(3 * heartbeatMs, 15_000)
  const live = state === 'running'
  return Object.freeze({
    state,
    live,
    ready: live && !outage.failing && last !== undefined && Date.now() - last <= freshMs,
    lastDatabaseSuccessAt: last === undefined ? null : new Date(last),
    fatal: fatal?.message ?? null,
  })
}
