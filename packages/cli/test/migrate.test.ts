import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName } from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'

let pool: pg.Pool
const schemas: string[] = []
beforeAll(() => {
  pool = new pg.Pool({ connectionString: databaseUrl() })
})
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await pool.end()
})

describe('pgq migrate', () => {
  it('ten concurrent processes on an empty database all exit 0 and apply the schema once', async () => {
    const schema = uniqueSchemaName('cli')
    schemas.push(schema)
    const runs = await Promise.all(
      Array.from({ length: 10 }, () =>
        runCli(['migrate', '--schema', schema, '--json'], { DATABASE_URL: databaseUrl() }),
      ),
    )
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0 })
    const applied = runs.map((r) => JSON.parse(r.stdout).applied.length)
    expect(applied.filter((n) => n > 0)).toHaveLength(1)
    const rows = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT version)::int AS d FROM "${schema}".migrations`,
    )
    expect(rows.rows[0].n).toBe(rows.rows[0].d)
    expect(rows.rows[0].n).toBe(Math.max(...applied))
  })

  it('--status lists applied and pending; --dry-run prints SQL and changes nothing', async () => {
    const schema = uniqueSchemaName('cli')
    schemas.push(schema)
    const env = { DATABASE_URL: databaseUrl() }
    const dry = await runCli(['migrate', '--schema', schema, '--dry-run'], env)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain(`CREATE TABLE "${schema}".jobs`)
    const before = await runCli(['migrate', '--schema', schema, '--status'], env)
    expect(before.stdout).toMatch(/0001 create_jobs\s+pending/)
    expect((await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount).toBe(0)
    await runCli(['migrate', '--schema', schema], env)
    const after = await runCli(['migrate', '--schema', schema, '--status'], env)
    expect(after.stdout).toMatch(/0001 create_jobs\s+applied \d{4}-/)
    expect(after.stdout).not.toContain('pending')
  })

  it('rejects a bad schema name and a missing database URL with a clear message', async () => {
    const bad = await runCli(['migrate', '--schema', 'Robert"); DROP'], { DATABASE_URL: databaseUrl() })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/schema: must be 1-63 characters/)
    const none = await runCli(['migrate'], { DATABASE_URL: '' })
    expect(none.code).toBe(64) // a usage error (docs/operations.md#process-lifetime-and-exit-codes)
    expect(none.stderr).toMatch(/no database/)
  })
})
