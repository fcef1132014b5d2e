import { PgqValidationError } from '../errors.js'

/** How a task retries; all fields optional. */
export interface RetryPolicyOptions {
  /** `exponential` (default): base × 2^(attempt-1); `fixed`: always base. */
  readonly backoff?: 'exponential' | 'fixed'
  /** First delay in ms (default 1,000). */
  readonly baseDelayMs?: number
  /** Largest delay in ms (default 1 hour). */
  readonly maxDelayMs?: number
  /** Random spread as a fraction of the delay, 0..1 (default 0.2: ±20 %). */
  readonly jitter?: number
  /** Which errors retry; others fail the job at once (default: all retry). */
  readonly retryOn?: (error: unknown) => boolean
}

/** A resolved retry policy. */
export interface RetryPolicy {
  readonly backoff: 'exponential' | 'fixed'
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly jitter: number
  readonly retryOn: (error: unknown) => boolean
  /** Delay before the next attempt after `attempt` failed (1-based), jitter included. */
  delayMs(attempt: number, random?: () => number): number
}

const KNOWN = new Set(['backoff', 'baseDelayMs', 'maxDelayMs', 'jitter', 'retryOn'])

/**
 * Validates and freezes retry options.
 *
 * ```ts
 * const policy = resolveRetryPolicy({ baseDelayMs: 500, maxDelayMs: 60_000 })
 * policy.delayMs(3) // about 2,000 ms (500 × 2²), ±20 %
 * ```
 */
export function resolveRetryPolicy(options: RetryPolicyOptions = {}, path = 'retry'): RetryPolicy {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw new PgqValidationError(`${path}.${key}`, `unknown option; known: ${[...KNOWN].join(', ')}`)
  }
  const backoff = options.backoff ?? 'exponential'
  if (backoff !== 'exponential' && backoff !== 'fixed') {
    throw new PgqValidationError(`${path}.backoff`, 'must be "exponential" or "fixed"', backoff)
  }
  const baseDelayMs = options.baseDelayMs ?? 1_000
  const maxDelayMs = options.maxDelayMs ?? 3_600_000
  const jitter = options.jitter ?? 0.2
  if (!Number.isFinite(baseDelayMs) || baseDelayMs < 0) {
    throw new PgqValidationError(`${path}.baseDelayMs`, 'must be a number ≥ 0', baseDelayMs)
  }
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < baseDelayMs) {
    throw new PgqValidationError(`${path}.maxDelayMs`, 'must be a number ≥ baseDelayMs', maxDelayMs)
  }
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    throw new PgqValidationError(`${path}.jitter`, 'must be a number from 0 to 1', jitter)
  }
  const retryOn = options.retryOn ?? (() => true)
  return Object.freeze({
    backoff,
    baseDelayMs,
    maxDelayMs,
    jitter,
    retryOn,
    delayMs(attempt: number, random: () => number = Math.random): number {
      const raw = backoff === 'fixed' ? baseDelayMs : baseDelayMs * 2 ** Math.max(0, attempt - 1)
      const capped = Math.min(raw, maxDelayMs)
      return Math.max(0, Math.round(capped * (1 + jitter * (2 * random() - 1))))
    },
  })
}
