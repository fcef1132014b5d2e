import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgq, type Pgq } from '../src/client/pgq.js'
import { PgqSchemaVersionError } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { Migrator } from '../src/migrate/migrator.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { databaseUrl, uniqueSchemaName, waitFor } from './test-database.js'

// Outages made real: the worker runs as its own role; an outage is that role's backends all
// terminated (pg_terminate_backend) while the role may not log in (NOLOGIN), or may only read
// (default_transaction_read_only), for as long as the test wants.
const role = `pgq_outage_${randomBytes(4).toString('hex')}`
const password = randomBytes(12).toString('hex')
const schema = uniqueSchemaName('out')
let admin: pg.Pool
let pool: pg.Pool
let pgq: Pgq
let roleUrl: string

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  const db = (await admin.query('SELECT current_database() AS db')).rows[0].db
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`)
  await admin.query(`GRANT CREATE ON DATABASE "${db}" TO ${role}`)
  const url = new URL(databaseUrl())
  url.username = role
  url.password = password
  roleUrl = url.toString()
  pool = new pg.Pool({ connectionString: roleUrl, max: 8 })
  pool.on('error', () => {})
  await new Migrator({ pool, schema }).migrate()
  await pool.query(`CREATE TABLE "${schema}".side_effects (job_id bigint PRIMARY KEY)`)
  pgq = createPgq({ pool, schema })
})
afterAll(async () => {
  await admin.query(`ALTER ROLE ${role} LOGIN`)
  await admin.query(`ALTER ROLE ${role} RESET default_transaction_read_only`)
  await pool.end()
  const db = (await admin.query('SELECT current_database() AS db')).rows[0].db
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.query(`REVOKE CREATE ON DATABASE "${db}" FROM ${role}`)
  await admin.query(`DROP ROLE IF EXISTS ${role}`)
  await admin.end()
})

/** Terminates every backend of the worker's role; with `refuse`, keeps it out until `restore()`. */
async function outage(refuse: 'login' | 'writes'): Promise<void> {
  if (refuse === 'login') await admin.query(`ALTER ROLE ${role} NOLOGIN`)
  if (refuse === 'writes') await admin.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`)
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
  // and whatever was authenticating while the first pass ran
  await new Promise((resolve) => setTimeout(resolve, 100))
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
}

async function restore(refused: 'login' | 'writes'): Promise<void> {
  await admin.query(`ALTER ROLE ${role} LOGIN`)
  await admin.query(`ALTER ROLE ${role} RESET default_transaction_read_only`)
  // read-only sessions keep their setting: end them so the pool opens fresh ones
  if (refused === 'writes')
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
}

function recordingLogger(): { logger: Logger; lines: { at: number; line: string }[] } {
  const lines: { at: number; line: string }[] = []
  const push = (level: string) => (message: string) =>
    lines.push({ at: Date.now(), line: `${level} ${message}` })
  return { lines, logger: { debug: () => {}, info: push('info'), warn: push('warn'), error: push('error') } }
}

const record = defineTask({
  name: 'record',
  handler: async (p: { ms: number }, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, p.ms))
    // the side effect: a second run of the same job would hit the primary key
    await admin.query(`INSERT INTO "${schema}".side_effects (job_id) VALUES ($1)`, [ctx.jobId])
  },
})

async function counts(): Promise<{ succeeded: number; effects: number; jobs: number }> {
  const { rows } = await admin.query(
    `SELECT (SELECT count(*)::int FROM "${schema}".jobs WHERE state = 'succeeded') AS succeeded,
            (SELECT count(*)::int FROM "${schema}".side_effects) AS effects,
            (SELECT count(*)::int FROM "${schema}".jobs) AS jobs`,
  )
  return rows[0]
}

function startWorker(logger: Logger): Worker {
  return pgq.createWorker({
    tasks: [record],
    concurrency: 5,
    leaseMs: 4_000,
    heartbeatMs: 300,
    rescueIntervalMs: 200,
    pollIntervalMs: 500,
    logger,
  })
}

describe('a worker through database outages', () => {
  it('idle and busy: survives every backend terminated and 3 s of refused logins, logs a bounded number of lines, finishes every job exactly once', async () => {
    const { logger, lines } = recordingLogger()
    const worker = startWorker(logger)
    const errors: string[] = []
    worker.on('worker:error', ({ component }) => errors.push(component))
    const { closed } = await worker.start()
    let settled = false
    void closed.then(() => {
      settled = true
    })
    try {
      // idle
      await outage('login')
      const idleOutageStart = Date.now()
      await waitFor(() => errors.length >= 3, 10_000, 'errors during the idle outage')
      while (Date.now() - idleOutageStart < 3_000) await new Promise((resolve) => setTimeout(resolve, 100))
      const during = lines.filter((l) => l.at >= idleOutageStart).length
      await restore('login')
      await pgq.enqueueMany(Array.from({ length: 10 }, () => ({ task: record, payload: { ms: 10 } })))
      await waitFor(async () => (await counts()).succeeded === 10, 10_000, 'jobs after the idle outage')
      expect(settled).toBe(false)
      // at most about one line per second while the outage lasted (listener lines included)
      expect(during).toBeLessThanOrEqual(6)
      expect(errors.length).toBeGreaterThan(during)
      // one line when it ends — per outage: a connection that was authenticating while the role was
      // locked out may slip through and split the outage in two under heavy load
      // (the worker's loops and the shared notifier each log their own start and end; the notifier
      // may still be in its reconnect backoff when the jobs are done, so wait for its end line)
      const ends = () => lines.filter((l) => l.line.includes('database reachable again')).length
      const starts = () => lines.filter((l) => l.line.includes('retrying with backoff')).length
      await waitFor(() => ends() >= 1 && ends() === starts(), 10_000, 'one end line per outage start')
      expect(ends()).toBe(starts())

      // busy: 40 jobs of 300 ms on 5 slots, outage in the middle
      await pgq.enqueueMany(Array.from({ length: 40 }, () => ({ task: record, payload: { ms: 300 } })))
      await waitFor(async () => (await counts()).succeeded >= 15, 20_000, 'busy')
      await outage('login')
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      await restore('login')
      await waitFor(async () => (await counts()).succeeded === 50, 30_000, 'all 50 jobs')
      const final = await counts()
      expect(final).toEqual({ succeeded: 50, effects: 50, jobs: 50 })
      expect(settled).toBe(false)
    } finally {
      await worker.stop()
    }
    await closed
  })

  it('a read-only server (default_transaction_read_only) is an outage too: the worker waits, then resumes', async () => {
    await admin.query(`DELETE FROM "${schema}".jobs`)
    await admin.query(`DELETE FROM "${schema}".side_effects`)
    const { logger } = recordingLogger()
    const worker = startWorker(logger)
    const errors: string[] = []
    worker.on('worker:error', ({ error }) => errors.push(error.message))
    await worker.start()
    try {
      await outage('writes')
      await pgq.enqueue(record, { ms: 1 }).catch(() => {}) // refused: read-only
      await admin.query(`SELECT "${schema}".enqueue('record', '{"ms":1}')`)
      await waitFor(() => errors.some((m) => m.includes('read-only')), 10_000, 'a read-only refusal')
      expect((await counts()).succeeded).toBe(0)
      await restore('writes')
      await waitFor(async () => (await counts()).succeeded === 1, 10_000, 'the job after read-only')
    } finally {
      await worker.stop()
    }
  })

  it('stops itself, closed rejecting with PgqSchemaVersionError, when an outage ends with the schema at another version', async () => {
    const worker = startWorker(recordingLogger().logger)
    const errors: string[] = []
    worker.on('worker:error', ({ component }) => errors.push(component))
    const stopped = new Promise<void>((resolve) => worker.once('worker:stopped', () => resolve()))
    const { closed } = await worker.start()
    try {
      await outage('login')
      await waitFor(() => errors.length > 0, 10_000, 'an error during the outage')
      await admin.query(
        `INSERT INTO ${pgq.names.migrations} (version, name) VALUES (100000, 'from_the_future')`,
      )
      await restore('login')
      await expect(closed).rejects.toBeInstanceOf(PgqSchemaVersionError)
      await stopped
    } finally {
      await admin.query(`DELETE FROM ${pgq.names.migrations} WHERE version = 100000`)
      await restore('login')
      await worker.stop()
    }
  })

  it('the workers row comes back after the rescuer deleted it (as after an outage longer than 60 s)', async () => {
    const worker = startWorker(recordingLogger().logger)
    await worker.start()
    try {
      const row = () => admin.query(`SELECT 1 FROM "${schema}".workers WHERE id = $1`, [worker.id])
      expect((await row()).rowCount).toBe(1)
      await admin.query(`DELETE FROM "${schema}".workers WHERE id = $1`, [worker.id])
      await waitFor(
        async () => (await row()).rowCount === 1,
        5_000,
        'workers row re-inserted by the heartbeat',
      )
    } finally {
      await worker.stop()
    }
  })
})

describe('a worker process', () => {
  const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'idle-worker.mjs')

  function lines(child: ChildProcess): string[] {
    const out: string[] = []
    child.stdout!.on('data', (chunk: Buffer) => out.push(...chunk.toString().split('\n').filter(Boolean)))
    return out
  }

  it('idle, with every backend terminated, stays up (closed keeps the event loop alive) and runs jobs after; SIGTERM → stop → exits 0 by itself', async () => {
    await admin.query(`DELETE FROM "${schema}".jobs`)
    const child = spawn(process.execPath, [fixture, roleUrl, schema], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const out = lines(child)
    try {
      await waitFor(() => out.includes('ready'), 15_000, 'child ready')
      for (let round = 0; round < 3; round += 1) {
        await outage('login')
        await new Promise((resolve) => setTimeout(resolve, 700))
        await restore('login')
      }
      // the pool is empty and every loop timer is unref()ed: only `closed` holds the process
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      expect(child.exitCode).toBeNull()
      const { id } = await pgq.enqueue('noop', {})
      await waitFor(
        async () =>
          (await admin.query(`SELECT state FROM "${schema}".jobs WHERE id = $1`, [id])).rows[0].state ===
          'succeeded',
        15_000,
        'job run by the child after the outages',
      )
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(out).toContain('closed')
    } finally {
      child.kill('SIGKILL')
    }
  })
})
