import { assertSchemaName, quoteIdentifier } from '../db/identifiers.js'
import { migrations as embedded } from './generated/migrations.js'

/** One numbered migration as shipped in `migrations/NNNN_name.sql`. */
export interface MigrationSource {
  readonly version: number
  readonly name: string
  /** SQL with `{{schema}}` (quoted identifier) and `{{schema_name}}` (bare, validated) placeholders. */
  readonly sql: string
}

/** All migrations this version of pgq ships, in order. */
export const MIGRATIONS: readonly MigrationSource[] = embedded

/** The migration version this version of pgq expects the database to be at. */
export const LATEST_MIGRATION: number = embedded.length === 0 ? 0 : embedded[embedded.length - 1]!.version

/**
 * The SQL of a migration for one schema. The schema name is validated against a strict rule first,
 * so substituting it is safe both as a quoted identifier and inside a string literal.
 *
 * ```ts
 * const sql = renderMigration(MIGRATIONS[0], 'pgq')
 * ```
 */
export function renderMigration(migration: MigrationSource, schema: string): string {
  assertSchemaName(schema)
  return migration.sql.replaceAll('{{schema}}', quoteIdentifier(schema)).replaceAll('{{schema_name}}', schema)
}
