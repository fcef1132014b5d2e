// `pgq dev` as a real child process: embedded PostgreSQL in a data folder (or --database-url),
// migrated, a worker and the scheduler for a tasks module; Ctrl-C stops it all.
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPgq } from '@pgq/core'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { databaseUrl, uniqueSchemaName, waitFor } from '../../pgq/test/test-database.js'
import { CLI } from './run-cli.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')
const TASKS = join(FIXTURES, 'dev-tasks.mjs')
const APP_TASKS = join(FIXTURES, 'dev-app-tasks.mjs')
const root = mkdtempSync(join(tmpdir(), 'pgq-dev-'))
chmodSync(root, 0o755)
afterAll(() => rmSync(root, { recursive: true, force: true }))

function startDevProcess(args: string[], env: Record<string, string | undefined>, tasks = TASKS) {
  const child = spawn(process.execPath, [CLI, 'dev', '--tasks', tasks, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => {
    output += d
  })
  child.stderr.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, exited, output: () => output }
}

async function roundTrip(url: string, schema: string): Promise<void> {
  const pgq = createPgq({ connectionString: url, schema })
  try {
    const job = await pgq.enqueue('echo', { word: 'hello' }, { queue: 'dev' })
    expect(await pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })).toEqual({ echoed: 'hello' })
    // the schedule declared in the module fires every second: more echo jobs succeed by themselves
    await waitFor(async () => (await pgq.jobs.list({ task: 'echo', state: 'succeeded' })).length >= 2, 10_000)
  } finally {
    await pgq.close()
  }
}

describe('pgq dev', () => {
  it('starts the embedded PostgreSQL, migrates, runs the tasks and schedules, and stops on SIGINT', async () => {
    const dataDir = join(root, 'data')
    const dev = startDevProcess(['--data-dir', dataDir], { DATABASE_URL: undefined })
    const url = await waitFor(() => /DATABASE_URL=(\S+)/.exec(dev.output())?.[1], 60_000, 'the URL')
    expect(dev.output()).toContain('with a new cluster')
    expect(dev.output()).toMatch(/worker and scheduler running: tasks echo; queues dev=10/)
    await roundTrip(url, 'pgq')

    dev.child.kill('SIGINT')
    expect(await dev.exited).toBe(0)
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false) // the database stopped too
  })

  it('uses --database-url instead of the embedded PostgreSQL', async () => {
    const schema = uniqueSchemaName('dev')
    const dev = startDevProcess(['--database-url', databaseUrl(), '--schema', schema], {})
    await waitFor(() => dev.output().includes('worker and scheduler running'), 30_000, 'the worker')
    expect(dev.output()).not.toContain('starting PostgreSQL')
    await roundTrip(databaseUrl(), schema)
    dev.child.kill('SIGTERM')
    expect(await dev.exited).toBe(0)
    const pool = new pg.Pool({ connectionString: databaseUrl() })
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    await pool.end()
  })

  it('gives the handlers DATABASE_URL of the embedded database and prints the line for the app', async () => {
    const dataDir = join(root, 'app-data')
    const dev = startDevProcess(['--data-dir', dataDir], { DATABASE_URL: undefined }, APP_TASKS)
    const url = await waitFor(() => /^DATABASE_URL=(\S+)$/m.exec(dev.output())?.[1], 60_000, 'the URL')
    expect(dev.output()).toContain(`  your app: export DATABASE_URL=${url}`)
    const port = Number(new URL(url).port)
    const pgq = createPgq({ connectionString: url })
    try {
      const job = await pgq.enqueue('where_am_i', {}, { queue: 'dev' })
      // the module's own pool, opened from DATABASE_URL when it was imported, reached the dev database
      expect(await pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })).toEqual({ port, url })
    } finally {
      await pgq.close()
    }
    dev.child.kill('SIGTERM')
    expect(await dev.exited).toBe(0)
  })

  it('starts the embedded database on the port of a DATABASE_URL that names the dev database', async () => {
    const port = await freePort()
    const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
    const dataDir = join(root, 'env-data')
    const dev = startDevProcess(['--data-dir', dataDir], { DATABASE_URL: url }, APP_TASKS)
    await waitFor(() => dev.output().includes('worker and scheduler running'), 60_000, 'the worker')
    expect(dev.output()).toContain(`starting PostgreSQL in ${dataDir}`)
    expect(dev.output()).toContain(`PostgreSQL started on port ${port} with a new cluster`)
    expect(dev.output()).toContain('your DATABASE_URL already points here')
    const pgq = createPgq({ connectionString: url })
    try {
      const job = await pgq.enqueue('where_am_i', {}, { queue: 'dev' })
      expect(await pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })).toEqual({ port, url })
    } finally {
      await pgq.close()
    }
    dev.child.kill('SIGINT')
    expect(await dev.exited).toBe(0)
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false)
  })

  it('uses any other DATABASE_URL as a real server, and its handlers see it', async () => {
    const schema = uniqueSchemaName('devenv')
    const dev = startDevProcess(['--schema', schema], { DATABASE_URL: databaseUrl() }, APP_TASKS)
    await waitFor(() => dev.output().includes('worker and scheduler running'), 30_000, 'the worker')
    expect(dev.output()).not.toContain('starting PostgreSQL')
    const pgq = createPgq({ connectionString: databaseUrl(), schema })
    try {
      const job = await pgq.enqueue('where_am_i', {}, { queue: 'dev' })
      expect(await pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })).toMatchObject({ url: databaseUrl() })
    } finally {
      await pgq.close()
    }
    dev.child.kill('SIGTERM')
    expect(await dev.exited).toBe(0)
    const pool = new pg.Pool({ connectionString: databaseUrl() })
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    await pool.end()
  })
})
