import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS, renderMigration } from '../src/migrate/migrations.js'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

// Upgrading a live schema: migration 0006 replaces enqueue() and enqueue_many(); roles that could run
// the old ones must keep their rights, and jobs enqueued before stay untouched.
const schema = uniqueSchemaName('up')
const role = `pgq_producer_${randomBytes(4).toString('hex')}`
const workerRole = `pgq_worker_${randomBytes(4).toString('hex')}`
let pool: pg.Pool

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  await pool.query(`CREATE SCHEMA "${schema}"`)
  await pool.query(`CREATE ROLE ${role} NOLOGIN`)
  await pool.query(`CREATE ROLE ${workerRole} NOLOGIN`)
})
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.query(`DROP ROLE IF EXISTS ${role}`)
  await pool.query(`DROP ROLE IF EXISTS ${workerRole}`)
  await pool.end()
})

async function canExecute(signature: string): Promise<boolean> {
  const { rows } = await pool.query(`SELECT has_function_privilege($1, $2, 'EXECUTE') AS ok`, [
    role,
    `"${schema}".${signature}`,
  ])
  return rows[0].ok
}

describe('migration 0006 on a schema in use', () => {
  it('keeps EXECUTE grants on the replaced enqueue functions, lets producers and workers use the new tables, keeps PUBLIC out and old jobs', async () => {
    for (const m of MIGRATIONS.filter((m) => m.version <= 5)) await pool.query(renderMigration(m, schema))
    await pool.query(`GRANT EXECUTE ON FUNCTION "${schema}".enqueue_many(jsonb) TO ${role}`)
    await pool.query(
      `GRANT EXECUTE ON FUNCTION "${schema}".enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text) TO ${role}`,
    )
    await pool.query(`GRANT INSERT, SELECT ON "${schema}".jobs TO ${role}`)
    await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON "${schema}".jobs TO ${workerRole}`)
    await pool.query(`SELECT "${schema}".enqueue('before', '{"a":1}')`)

    await pool.query(renderMigration(MIGRATIONS.find((m) => m.version === 6)!, schema))

    expect(await canExecute('enqueue_many(jsonb)')).toBe(true)
    expect(
      await canExecute(
        'enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text, interval)',
      ),
    ).toBe(true)
    // producers can still enqueue (the registry is read by every enqueue), workers can register
    const rights = async (who: string, table: string, privilege: string) =>
      (
        await pool.query(`SELECT has_table_privilege($1, $2, $3) AS ok`, [
          who,
          `"${schema}".${table}`,
          privilege,
        ])
      ).rows[0].ok
    expect(await rights(role, 'tasks', 'SELECT')).toBe(true)
    expect(await rights(role, 'tasks', 'INSERT')).toBe(false)
    expect(await rights(role, 'dedup_windows', 'INSERT')).toBe(true)
    expect(await rights(workerRole, 'tasks', 'INSERT')).toBe(true)
    expect(await rights(workerRole, 'tasks', 'UPDATE')).toBe(true)
    const { rows: publicRights } = await pool.query(
      `SELECT p.proname FROM pg_proc p CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
       WHERE p.pronamespace = $1::regnamespace AND a.grantee = 0`,
      [`"${schema}"`],
    )
    expect(publicRights).toEqual([])
    const { rows: old } = await pool.query(`SELECT task, payload, followup FROM "${schema}".jobs`)
    expect(old).toEqual([{ task: 'before', payload: { a: 1 }, followup: null }])
    const { rows: fns } = await pool.query(
      `SELECT proname FROM pg_proc WHERE pronamespace = $1::regnamespace AND proname LIKE 'enqueue%' ORDER BY 1`,
      [`"${schema}"`],
    )
    expect(fns.map((f) => f.proname)).toEqual(['enqueue', 'enqueue_many'])
  })
})
