// The one way pgq checks options: a complete list of known keys per options type (checked by the
// compiler), unknown keys rejected, integers within bounds. Every failure is a PgqValidationError
// naming the path of the bad value; nothing is written before validation passes.
import { PgqValidationError } from '../errors.js'

/** The largest delay a Node.js timer takes (ms); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** The keys an options object may have. Built with {@link optionKeys}. */
export type OptionKeys = ReadonlySet<string>

/**
 * The known keys of an options type. The record must list every key of `T` and nothing else, so a
 * new option the list forgets (or a typo) fails to compile instead of being rejected at run time.
 *
 * ```ts
 * const KNOWN = optionKeys<PrunerOptions>({ pool: true, schema: true, onError: true, intervalMs: true })
 * ```
 */
export function optionKeys<T extends object>(keys: { readonly [K in keyof Required<T>]: true }): OptionKeys {
  return Object.freeze(new Set(Object.keys(keys)))
}

/**
 * Throws unless `options` is an object whose keys are all in `known`. `prefix` starts each path
 * (`'worker.'` → `worker.concurency: unknown option; known: …`); `noun` names what a key is.
 *
 * ```ts
 * assertOptions(options, KNOWN, 'schedule.')
 * ```
 */
export function assertOptions(options: unknown, known: OptionKeys, prefix = '', noun = 'option'): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new PgqValidationError(prefix.replace(/\.$/, '') || 'options', 'must be an object', options)
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new PgqValidationError(`${prefix}${key}`, `unknown ${noun}; known: ${[...known].join(', ')}`)
    }
  }
}

/**
 * The integer `value` if it lies in [min, max]; otherwise a {@link PgqValidationError} naming `path`
 * that says `rule` (default: `must be an integer from <min> to <max>`).
 *
 * ```ts
 * const batchSize = assertInt(options.batchSize ?? 1_000, 'batchSize', 1, 100_000)
 * ```
 */
export function assertInt(value: unknown, path: string, min: number, max: number, rule?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PgqValidationError(path, rule ?? `must be an integer from ${min} to ${max}`, value)
  }
  return value
}

/**
 * `value` if it is a boolean; otherwise a {@link PgqValidationError} naming `path`.
 *
 * ```ts
 * const listen = assertBoolean(options.listen ?? true, 'worker.listen')
 * ```
 */
export function assertBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new PgqValidationError(path, 'must be true or false', value)
  return value
}

/**
 * The finite number `value` if it lies in [min, max]; otherwise a {@link PgqValidationError} naming
 * `path` that says `rule` (default: `must be a number ≥ <min>`, or `from <min> to <max>` when `max`
 * is finite).
 *
 * ```ts
 * const jitter = assertNumber(options.jitter ?? 0.2, 'retry.jitter', 0, 1)
 * ```
 */
export function assertNumber(
  value: unknown,
  path: string,
  min: number,
  max = Number.POSITIVE_INFINITY,
  rule?: string,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const bounds = max === Number.POSITIVE_INFINITY ? `≥ ${min}` : `from ${min} to ${max}`
    throw new PgqValidationError(path, rule ?? `must be a number ${bounds}`, value)
  }
  return value
}
