import type pg from 'pg'
import { schemaNames } from '../db/schema-names.js'
import { PgqMigrationError, PgqSchemaVersionError } from '../errors.js'
import {
  ensureMigrationsTable,
  listAppliedMigrations,
  lockMigrations,
  recordMigration,
} from '../sql/migration-queries.js'
import { LATEST_MIGRATION, MIGRATIONS, type MigrationSource, renderMigration } from './migrations.js'

/** A migration's state in one database. */
export interface MigrationStatus {
  readonly version: number
  readonly name: string
  readonly appliedAt: Date | null
}

/** What {@link Migrator.migrate} did. */
export interface MigrationResult {
  readonly schema: string
  /** Versions this run applied (empty when the schema was already current). */
  readonly applied: readonly MigrationStatus[]
  /** The version the schema is at now. */
  readonly version: number
}

/** Options of {@link Migrator}. */
export interface MigratorOptions {
  /** Where to migrate: a pool; the migrator checks out one client and returns it. */
  readonly pool: pg.Pool
  /** Schema to migrate (default `pgq`). */
  readonly schema?: string
}

/**
 * Applies pgq's numbered SQL migrations to one schema. Safe to run from many processes at once:
 * each run takes a transaction-scoped advisory lock, so one process applies the pending steps and
 * the others wait, then find nothing to do. All pending steps apply in one transaction: a failure
 * keeps none of them.
 *
 * ```ts
 * const migrator = new Migrator({ pool, schema: 'pgq' })
 * const { applied, version } = await migrator.migrate()
 * ```
 */
export class Migrator {
  readonly #pool: pg.Pool
  readonly #schema: string
  readonly #migrations: readonly MigrationSource[]

  constructor(options: MigratorOptions, migrations: readonly MigrationSource[] = MIGRATIONS) {
    this.#pool = options.pool
    this.#schema = schemaNames(options.schema ?? 'pgq').schema
    this.#migrations = migrations
  }

  /** Applies every pending migration. Throws {@link PgqMigrationError} (nothing kept) on failure. */
  async migrate(): Promise<MigrationResult> {
    const names = schemaNames(this.#schema)
    const client = await this.#pool.connect()
    let current: MigrationSource | undefined
    try {
      await client.query('BEGIN')
      await lockMigrations(client, names)
      await ensureMigrationsTable(client, names)
      const done = new Set((await listAppliedMigrations(client, names)).map((row) => row.version))
      const applied: MigrationStatus[] = []
      for (const migration of this.#migrations) {
        if (done.has(migration.version)) continue
        current = migration
        await client.query(renderMigration(migration, this.#schema))
        await recordMigration(client, names, migration.version, migration.name)
        applied.push({ version: migration.version, name: migration.name, appliedAt: new Date() })
      }
      await client.query('COMMIT')
      return { schema: this.#schema, applied, version: this.#latest() }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      if (current) throw new PgqMigrationError(current.version, current.name, error)
      throw error
    } finally {
      client.release()
    }
  }

  /** Every known migration with the time it was applied, or `null` while pending. */
  async status(): Promise<MigrationStatus[]> {
    const applied = new Map(
      (await listAppliedMigrations(this.#pool, schemaNames(this.#schema))).map((row) => [row.version, row]),
    )
    return this.#migrations.map((m) => ({
      version: m.version,
      name: m.name,
      appliedAt: applied.get(m.version)?.applied_at ?? null,
    }))
  }

  /** The SQL that {@link migrate} would run now, one entry per pending migration. */
  async pendingSql(): Promise<{ version: number; name: string; sql: string }[]> {
    const status = await this.status()
    return status
      .filter((s) => s.appliedAt === null)
      .map((s) => {
        const source = this.#migrations.find((m) => m.version === s.version)!
        return { version: s.version, name: s.name, sql: renderMigration(source, this.#schema) }
      })
  }

  /** Throws {@link PgqSchemaVersionError} unless the schema is exactly at this pgq's version. */
  async assertCurrent(): Promise<void> {
    const applied = await listAppliedMigrations(this.#pool, schemaNames(this.#schema))
    const version = applied.length === 0 ? 0 : applied[applied.length - 1]!.version
    if (version !== this.#latest()) throw new PgqSchemaVersionError(this.#schema, version, this.#latest())
  }

  #latest(): number {
    return this.#migrations.length === 0 ? 0 : this.#migrations[this.#migrations.length - 1]!.version
  }
}

export { LATEST_MIGRATION }
