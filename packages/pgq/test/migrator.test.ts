import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgqMigrationError, PgqSchemaVersionError, PgqValidationError } from '../src/errors.js'
import { LATEST_MIGRATION, MIGRATIONS } from '../src/migrate/migrations.js'
import { Migrator } from '../src/migrate/migrator.js'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

let pool: pg.Pool
const schemas: string[] = []

beforeAll(() => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 20 })
})
afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

function newSchema(): string {
  const schema = uniqueSchemaName('m')
  schemas.push(schema)
  return schema
}

describe('Migrator', () => {
  it('applies every migration once, then finds nothing to do', async () => {
    const schema = newSchema()
    const migrator = new Migrator({ pool, schema })
    const first = await migrator.migrate()
    expect(first.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version))
    expect(first.version).toBe(LATEST_MIGRATION)
    const second = await migrator.migrate()
    expect(second.applied).toEqual([])
    const status = await migrator.status()
    expect(status.every((s) => s.appliedAt instanceof Date)).toBe(true)
    await migrator.assertCurrent()
    const tables = await pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
      [schema],
    )
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'dedup_windows',
      'job_dependencies',
      'jobs',
      'migrations',
      'queue_key_buckets',
      'queues',
      'schedules',
      'tasks',
      'workers',
      'workflow_nodes',
      'workflows',
    ])
  })

  it('reports pending migrations and their SQL before applying', async () => {
    const schema = newSchema()
    const migrator = new Migrator({ pool, schema })
    const status = await migrator.status()
    expect(status.every((s) => s.appliedAt === null)).toBe(true)
    const pending = await migrator.pendingSql()
    expect(pending).toHaveLength(MIGRATIONS.length)
    expect(pending[0]!.sql).toContain(`CREATE TABLE "${schema}".jobs`)
    expect(pending[0]!.sql).not.toContain('{{')
    await expect(migrator.assertCurrent()).rejects.toBeInstanceOf(PgqSchemaVersionError)
    // nothing was created by looking
    const found = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    expect(found.rowCount).toBe(0)
  })

  it('ten concurrent migrators on an empty schema apply each step exactly once', async () => {
    const schema = newSchema()
    const results = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const own = new pg.Pool({ connectionString: databaseUrl(), max: 1 })
        try {
          return await new Migrator({ pool: own, schema }).migrate()
        } finally {
          await own.end()
        }
      }),
    )
    const appliedCounts = results.map((r) => r.applied.length)
    expect(appliedCounts.filter((n) => n === MIGRATIONS.length)).toHaveLength(1)
    expect(appliedCounts.filter((n) => n === 0)).toHaveLength(9)
    const rows = await pool.query(`SELECT version FROM "${schema}".migrations ORDER BY version`)
    expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
  })

  it('a failing migration keeps nothing and says which one failed', async () => {
    const schema = newSchema()
    const broken = [...MIGRATIONS, { version: LATEST_MIGRATION + 1, name: 'broken', sql: 'SELECT 1/0;' }]
    const error = await new Migrator({ pool, schema }, broken).migrate().catch((e) => e)
    expect(error).toBeInstanceOf(PgqMigrationError)
    expect(error.message).toContain('broken')
    const found = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    expect(found.rowCount).toBe(0)
  })

  it('rejects an invalid schema name before touching the database', () => {
    for (const bad of ['Pgq', 'pgq; drop table x', 'a"b', '1abc', '', 'x'.repeat(64)]) {
      expect(() => new Migrator({ pool, schema: bad })).toThrow(PgqValidationError)
    }
  })

  it('leaves nothing executable by PUBLIC and no SECURITY DEFINER function', async () => {
    const schema = newSchema()
    await new Migrator({ pool, schema }).migrate()
    const fns = await pool.query(
      `SELECT p.proname, p.prosecdef, p.proacl::text AS acl FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`,
      [schema],
    )
    expect(fns.rows.length).toBeGreaterThanOrEqual(2)
    for (const fn of fns.rows) {
      expect(fn.prosecdef).toBe(false)
      // an ACL entry "=X/owner" would mean EXECUTE for PUBLIC
      expect(fn.acl ?? '').not.toMatch(/(^|[{,])=/)
      expect(fn.acl).not.toBeNull()
    }
  })
})
