import { PgqValidationError } from '../errors.js'

/** Schema names: lower-case SQL identifiers that never need quoting tricks. */
export const SCHEMA_NAME_RULE = /^[a-z_][a-z0-9_]{0,62}$/

/** Queue, task and schedule names (the same rule is a CHECK constraint in the database). */
export const NAME_RULE = /^[A-Za-z0-9_.:-]{1,128}$/

/**
 * Validates a schema name and returns it. Throws {@link PgqValidationError} naming the value and
 * the rule.
 *
 * ```ts
 * assertSchemaName('pgq') // 'pgq'
 * assertSchemaName('pgq; drop table x') // throws
 * ```
 */
export function assertSchemaName(value: unknown, path = 'schema'): string {
  if (typeof value !== 'string' || !SCHEMA_NAME_RULE.test(value)) {
    throw new PgqValidationError(
      path,
      'must be 1-63 characters of a-z, 0-9 and _, starting with a letter or _ (e.g. "pgq")',
      value,
    )
  }
  return value
}

/**
 * Validates a queue, task or schedule name: 1-128 characters of A-Z a-z 0-9 _ . : -
 *
 * ```ts
 * assertName('emails', 'options.queue')
 * ```
 */
export function assertName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !NAME_RULE.test(value)) {
    throw new PgqValidationError(path, 'must be 1-128 characters of A-Z a-z 0-9 _ . : -', value)
  }
  return value
}

/** Quotes an identifier for SQL (doubling embedded quotes), after validation. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
