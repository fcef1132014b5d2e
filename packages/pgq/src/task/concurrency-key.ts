import { PgqValidationError } from '../errors.js'

/**
 * Where a task's jobs take their concurrency key from (docs/flow-control.md, "Per-key limits"):
 * the dotted path of a payload field (`'customerId'`, `'account.id'`), which SQL enqueue applies too
 * (workers register it in `pgq.tasks`), or a function of the payload, applied by TypeScript
 * enqueue only.
 *
 * ```ts
 * const byCustomer: ConcurrencyKeySource<{ customerId: string }> = 'customerId'
 * const byDomain: ConcurrencyKeySource<{ to: string }> = (p) => p.to.split('@')[1] ?? 'none'
 * ```
 */
export type ConcurrencyKeySource<P> = string | ((payload: P) => string | undefined)

/** Longest concurrency key (the jobs table's check). */
export const MAX_KEY_LENGTH = 512
const PATH = /^[A-Za-z0-9_$-]{1,64}(\.[A-Za-z0-9_$-]{1,64}){0,7}$/

/** @internal Checks a task's `concurrencyKey` option; throws {@link PgqValidationError}. */
export function assertKeySource(source: unknown, path: string): void {
  if (typeof source === 'function') return
  if (typeof source !== 'string' || !PATH.test(source) || source.length > 256) {
    throw new PgqValidationError(
      path,
      'must be a payload field path such as "customerId" or "account.id" (up to 8 names of A-Z a-z 0-9 _ $ -), or a function of the payload',
      source,
    )
  }
}

/**
 * @internal A job's key from its task's source: the field's value when it is a string, a number
 * or a boolean (as text, as SQL's `#>>` gives it), else none. A function's result is checked.
 */
export function keyFromPayload(
  source: ConcurrencyKeySource<unknown>,
  payload: unknown,
  path: string,
): string | undefined {
  if (typeof source === 'function') {
    const key = source(payload)
    if (key === undefined) return undefined
    return assertKey(key, path)
  }
  let value: unknown = payload
  for (const name of source.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
    value = (value as Record<string, unknown>)[name]
  }
  if (typeof value === 'string') return value === '' ? undefined : value.slice(0, MAX_KEY_LENGTH)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

/** @internal Checks a concurrency key: a string of 1-512 characters. */
export function assertKey(key: unknown, path: string): string {
  if (typeof key !== 'string' || key.length < 1 || key.length > MAX_KEY_LENGTH) {
    throw new PgqValidationError(path, `must be a string of 1-${MAX_KEY_LENGTH} characters`, key)
  }
  return key
}
