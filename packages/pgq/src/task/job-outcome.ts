import { PgqError } from '../errors.js'

const SNOOZE = Symbol.for('pgq.snooze')

/** Returned by a handler to run the job again later without spending an attempt. */
export interface Snooze {
  readonly [SNOOZE]: true
  readonly delayMs: number
}

/**
 * Ask for the job to run again after `delayMs`, without spending an attempt (e.g. a rate-limited
 * API said "come back later").
 *
 * ```ts
 * handler: async (payload, ctx) => {
 *   if (!(await api.ready())) return snooze(30_000)
 *   return api.sync(payload)
 * }
 * ```
 */
export function snooze(delayMs: number): Snooze {
  if (!Number.isFinite(delayMs) || delayMs < 0)
    throw new PgqError('PGQ_INVALID_INPUT', 'snooze(delayMs): delayMs must be ≥ 0', { delayMs })
  return Object.freeze({ [SNOOZE]: true as const, delayMs })
}

/** @internal */
export function isSnooze(value: unknown): value is Snooze {
  return typeof value === 'object' && value !== null && (value as Snooze)[SNOOZE] === true
}

/**
 * Throw it from a handler to fail the job at once, without retries (bad input that will never
 * succeed, a resource that is gone).
 *
 * ```ts
 * if (!user) throw new PermanentError(`user ${payload.userId} does not exist`)
 * ```
 */
export class PermanentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PermanentError'
  }
}

/** The reason a handler's signal was aborted (`signal.reason`). */
export class JobAbortedError extends Error {
  readonly reason: 'timeout' | 'cancelled' | 'lease-lost' | 'shutdown'

  constructor(reason: JobAbortedError['reason']) {
    super(
      {
        timeout: 'the job ran past its time limit',
        cancelled: 'the job was cancelled',
        'lease-lost': 'the worker lost the job’s lease; another worker may run it',
        shutdown: 'the worker is shutting down; the job will run again elsewhere',
      }[reason],
    )
    this.name = 'JobAbortedError'
    this.reason = reason
  }
}
