import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS, renderMigration } from '../src/migrate/migrations.js'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

// Upgrading a live schema: migration 0006 replaces enqueue() and enqueue_many(); roles that could run
// the old ones must keep their rights, and jobs enqueued before stay untouched.
const schema = uniqueSchemaName('up')
const role = `pgq_producer_${randomBytes(4).toString('hex')}`
let pool: pg.Pool

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  await pool.query(`CREATE SCHEMA "${schema}"`)
  await pool.query(`CREATE ROLE ${role} NOLOGIN`)
})
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.query(`DROP ROLE IF EXISTS ${role}`)
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
  it('keeps EXECUTE grants on the replaced enqueue functions, keeps PUBLIC out, and keeps old jobs', async () => {
    for (const m of MIGRATIONS.filter((m) => m.version <= 5)) await pool.query(renderMigration(m, schema))
    await pool.query(`GRANT EXECUTE ON FUNCTION "${schema}".enqueue_many(jsonb) TO ${role}`)
    await pool.query(
      `GRANT EXECUTE ON FUNCTION "${schema}".enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text) TO ${role}`,
    )
    await pool.query(`SELECT "${schema}".enqueue('before', '{"a":1}')`)

    await pool.query(renderMigration(MIGRATIONS.find((m) => m.version === 6)!, schema))

    expect(await canExecute('enqueue_many(jsonb)')).toBe(true)
    expect(
      await canExecute(
        'enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text, interval)',
      ),
    ).toBe(true)
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
