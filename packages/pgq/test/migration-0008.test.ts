import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../src/migrate/migrations.js'
import { Migrator } from '../src/migrate/migrator.js'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

// Upgrading a schema in use to 0008 (worker history): rows of running workers stay alive, a stale
// one reads as lost, and roles that could read the workers table may read the new view.
const schema = uniqueSchemaName('up8')
const monitor = `pgq_monitor_${randomBytes(4).toString('hex')}`
let pool: pg.Pool

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  await pool.query(`CREATE ROLE ${monitor} NOLOGIN`)
})
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.query(`DROP ROLE IF EXISTS ${monitor}`)
  await pool.end()
})

describe('migration 0008 on a schema in use', () => {
  it('keeps worker rows (fresh ones alive, stale ones lost) and grants the view to readers of workers', async () => {
    await new Migrator(
      { pool, schema },
      MIGRATIONS.filter((m) => m.version <= 7),
    ).migrate()
    await pool.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${monitor}`)
    await pool.query(`GRANT SELECT ON "${schema}".workers TO ${monitor}`)
    await pool.query(
      `INSERT INTO "${schema}".workers (id, hostname, pid, queues, concurrency, heartbeat_at) VALUES
         (gen_random_uuid(), 'fresh', 1, '{default}', 4, now()),
         (gen_random_uuid(), 'stale', 2, '{default}', 4, now() - interval '1 minute')`,
    )

    await new Migrator({ pool, schema }).migrate()

    const { rows } = await pool.query(
      `SELECT hostname, status, stopped_at, running_jobs::int FROM "${schema}".worker_status ORDER BY hostname`,
    )
    expect(rows).toEqual([
      { hostname: 'fresh', status: 'alive', stopped_at: null, running_jobs: 0 },
      { hostname: 'stale', status: 'lost', stopped_at: null, running_jobs: 0 },
    ])
    const grant = await pool.query(`SELECT has_table_privilege($1, $2, 'SELECT') AS ok`, [
      monitor,
      `"${schema}".worker_status`,
    ])
    expect(grant.rows[0].ok).toBe(true)
    const publicGrant = await pool.query(
      `SELECT count(*)::int AS n FROM information_schema.role_table_grants
       WHERE table_schema = $1 AND table_name = 'worker_status' AND grantee = 'PUBLIC'`,
      [schema],
    )
    expect(publicGrant.rows[0].n).toBe(0)
    // a reason without a time (or the reverse) is refused
    await expect(
      pool.query(`UPDATE "${schema}".workers SET stop_reason = 'stopped' WHERE hostname = 'fresh'`),
    ).rejects.toThrow(/workers_stop_reason_check/)
  })
})
