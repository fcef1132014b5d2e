// `pgq dev` as a real child process: embedded PostgreSQL in a data folder (or --database-url),
// migrated, a worker and the scheduler for a tasks module; Ctrl-C stops it all.
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createPgq } from 'pgq'
import { afterAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName, waitFor } from '../../pgq/test/test-database.js'
import { CLI } from './run-cli.js'

const TASKS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'dev-tasks.mjs')
const root = mkdtempSync(join(tmpdir(), 'pgq-dev-'))
chmodSync(root, 0o755)
afterAll(() => rmSync(root, { recursive: true, force: true }))

function startDevProcess(args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, [CLI, 'dev', '--tasks', TASKS, ...args], {
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
})
