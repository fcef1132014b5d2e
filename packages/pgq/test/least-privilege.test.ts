import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgq } from '../src/client/pgq.js'
import { Migrator } from '../src/migrate/migrator.js'
import { defineTask } from '../src/task/task.js'
import { databaseUrl, uniqueSchemaName, waitFor } from './test-database.js'

// pgq must install and run as an ordinary role: no superuser, no CREATEROLE, no extensions.
const role = `pgq_owner_${randomBytes(4).toString('hex')}`
const password = randomBytes(12).toString('hex')
const schema = uniqueSchemaName('lp')
let admin: pg.Pool
let pool: pg.Pool

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  const db = (await admin.query('SELECT current_database() AS db')).rows[0].db
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEROLE NOCREATEDB`)
  await admin.query(`GRANT CREATE ON DATABASE "${db}" TO ${role}`)
  const url = new URL(databaseUrl())
  url.username = role
  url.password = password
  pool = new pg.Pool({ connectionString: url.toString(), max: 6 })
  pool.on('error', () => {})
})
afterAll(async () => {
  await pool.end()
  const db = (await admin.query('SELECT current_database() AS db')).rows[0].db
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.query(`REVOKE CREATE ON DATABASE "${db}" FROM ${role}`)
  await admin.query(`DROP ROLE IF EXISTS ${role}`)
  await admin.end()
})

describe('least privilege', () => {
  it('a role without superuser, CREATEROLE or CREATEDB migrates, enqueues from TS and SQL, and runs jobs', async () => {
    const me = (await pool.query('SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user'))
      .rows[0]
    expect(me).toEqual({ rolsuper: false, rolcreaterole: false })
    const result = await new Migrator({ pool, schema }).migrate()
    expect(result.applied.length).toBeGreaterThan(0)

    const pgq = createPgq({ pool, schema })
    const echo = defineTask({ name: 'echo', handler: async (p: { n: number }) => p.n })
    const worker = pgq.createWorker({ tasks: [echo] })
    await worker.start()
    try {
      const a = await pgq.enqueue(echo, { n: 1 })
      const b = (await pool.query(`SELECT "${schema}".enqueue('echo', '{"n":2}') AS id`)).rows[0].id
      await waitFor(
        async () =>
          (
            await pool.query(
              `SELECT count(*)::int AS n FROM "${schema}".jobs WHERE state = 'succeeded' AND id IN ($1, $2)`,
              [a.id, b],
            )
          ).rows[0].n === 2,
        10_000,
        'both jobs succeeded',
      )
    } finally {
      await worker.stop()
    }
  })
})
