import { PgqValidationError } from '../errors.js'
import { assertNumber, assertOptions, optionKeys } from '../util/validate.js'

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

const KNOWN = optionKeys<RetryPolicyOptions>({
  backoff: true,
  baseDelayMs: true,
  maxDelayMs: true,
  jitter: true,
  retryOn: true,
})

/**
 * Validates and freezes retry options.
 *
 * ```ts
 * const policy = resolveRetryPolicy({ baseDelayMs: 500, maxDelayMs: 60_000 })
 * policy.delayMs(3) // about 2,000 ms (500 × 2²), ±20 %
 * ```
 */
export function resolveRetryPolicy(options: RetryPolicyOptions = {}, path = 'retry'): RetryPolicy {
  assertOptions(options, KNOWN, `${path}.`)
  const backoff = options.backoff ?? 'exponential'
  if (backoff !== 'exponential' && backoff !== 'fixed') {
    throw new PgqValidationError(`${path}.backoff`, 'must be "exponential" or "fixed"', backoff)
  }
  const baseDelayMs = assertNumber(options.baseDelayMs ?? 1_000, `${path}.baseDelayMs`, 0)
  const maxDelayMs = assertNumber(
    options.maxDelayMs ?? 3_600_000,
    `${path}.maxDelayMs`,
    baseDelayMs,
    Number.POSITIVE_INFINITY,
    'must be a number ≥ baseDelayMs',
  )
  const jitter = assertNumber(options.jitter ?? 0.2, `${path}.jitter`, 0, 1)
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
