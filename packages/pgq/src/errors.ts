/**
 * Every error pgq throws on purpose is a `PgqError`, with a stable `code` and a `context` object
 * that names the values involved. Catch the subclass you care about:
 *
 * ```ts
 * try {
 *   await pgq.enqueue(sendEmail, payload)
 * } catch (error) {
 *   if (error instanceof PgqValidationError) console.error(error.path, error.rule)
 * }
 * ```
 */
export class PgqError extends Error {
  readonly code: string
  readonly context: Readonly<Record<string, unknown>>

  constructor(code: string, message: string, context: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.context = Object.freeze({ ...context })
  }
}

/**
 * Bad input: a payload JSON cannot carry faithfully, an unknown option, an invalid name or number.
 * Thrown before any SQL runs, so nothing is written.
 *
 * `path` names where the bad value is (`payload.user.born`, `options.priority`, `schema`);
 * `rule` says what was expected.
 */
export class PgqValidationError extends PgqError {
  readonly path: string
  readonly rule: string

  constructor(path: string, rule: string, value?: unknown) {
    super('PGQ_INVALID_INPUT', `${path}: ${rule}`, { path, rule, value: describeValue(value) })
    this.path = path
    this.rule = rule
  }
}

/** The database schema is missing, older or newer than this version of pgq expects. */
export class PgqSchemaVersionError extends PgqError {
  constructor(schema: string, applied: number, expected: number) {
    const advice =
      applied < expected
        ? `run \`pgq migrate --schema ${schema}\``
        : 'upgrade pgq: the database was migrated by a newer version'
    super(
      'PGQ_SCHEMA_VERSION',
      `schema "${schema}" is at migration ${applied}, this pgq expects ${expected}: ${advice}`,
      { schema, applied, expected },
    )
  }
}

/** A migration failed; nothing of that migration (or the ones after it in the same run) was kept. */
export class PgqMigrationError extends PgqError {
  constructor(version: number, name: string, cause: unknown) {
    super(
      'PGQ_MIGRATION_FAILED',
      `migration ${version} (${name}) failed: ${(cause as Error)?.message ?? String(cause)}`,
      { version, name },
      { cause },
    )
  }
}

/** Short, payload-free description of a value for error context (never the value itself when large). */
function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'string')
    return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return 'function'
  if (typeof value === 'symbol') return 'symbol'
  if (value === null || typeof value !== 'object') return String(value)
  return Object.prototype.toString.call(value)
}
