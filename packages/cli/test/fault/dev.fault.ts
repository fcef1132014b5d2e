// `pgq dev`, with and without --tasks, on its embedded PostgreSQL and on the suite's server: it
// stays up for 60 s and after every connection is cut, then stops on SIGINT with exit code 0
// (and, when embedded, stops its database). Before the fix, without --tasks it exited 0 after
// ~10 s (the pool's idle timeout), and with --tasks on the first lost connection.
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPgq } from '@pgq/core'
import { freePort } from '@pgq/embedded'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../../pgq/test/test-database.js'
import { createWorld, type World } from './harness.js'
import { FAULT_TASKS, killAll, type PgqProcess, spawnPgq, waitForLine } from './processes.js'

const root = mkdtempSync(join(tmpdir(), 'pgq-fault-dev-'))
chmodSync(root, 0o755) // as root, the embedded PostgreSQL runs as `postgres` and must enter it
const worlds: World[] = []
afterAll(async () => {
  await killAll()
  await Promise.all(worlds.map((w) => w.close()))
  rmSync(root, { recursive: true, force: true })
})

/** Resolves after `ms`, or fails as soon as `p` exits. */
async function staysUp(p: PgqProcess, ms: number): Promise<void> {
  const end = Date.now() + ms
  await waitFor(() => {
    if (p.exit() !== undefined) throw new Error(`${p.name} exited ${p.exit()}:\n${p.output()}`)
    return Date.now() >= end
  }, ms + 10_000)
}

async function superuserQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  await client.query(sql)
  await client.end()
}

/** Polls until `name` is a schema of the database at `url` (true) or `timeoutMs` passed (false). */
async function schemaExists(url: string, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    client.on('error', () => {})
    await client.connect()
    const { rows } = await client.query('SELECT to_regnamespace($1) IS NOT NULL AS found', [name])
    await client.end()
    if (rows[0].found || Date.now() > deadline) return rows[0].found as boolean
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const cutEveryone = (db: string) =>
  `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = '${db}' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`

describe.concurrent('pgq dev stays up', () => {
  for (const database of ['embedded', 'server'] as const) {
    for (const withTasks of [true, false]) {
      it(`${withTasks ? 'with' : 'without'} --tasks, on ${database === 'embedded' ? 'its embedded PostgreSQL' : 'the suite server (--database-url)'}`, async () => {
        let url: string
        let superuser: string
        let env: Record<string, string | undefined>
        const args = ['dev', '--log-level', 'info']
        let dataDir: string | undefined
        if (database === 'embedded') {
          const port = await freePort()
          dataDir = join(root, `data-${withTasks}`)
          args.push('--data-dir', dataDir, '--port', String(port))
          url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
          superuser = url
          env = { DATABASE_URL: undefined, FAULT_EFFECTS_URL: url, PGQ_SCHEMA: 'pgq' }
        } else {
          const world = await createWorld()
          worlds.push(world)
          url = world.url
          superuser = world.cluster.url('app')
          args.push('--database-url', url)
          env = { ...world.env, DATABASE_URL: undefined, FAULT_EFFECTS_URL: url }
        }
        if (withTasks) args.push('--tasks', FAULT_TASKS)
        const dev = spawnPgq(`dev-${database}-${withTasks}`, args, env)
        await waitForLine(dev, /^DATABASE_URL=/, 240_000)
        // the line comes after the migration; should the schema still be missing there, say what pgq
        // dev printed (one CI run in four found it missing: not understood yet)
        const schema = await schemaExists(superuser, 'pgq', 30_000)
        expect(schema, dev.output()).toBe(true)
        await superuserQuery(
          superuser,
          'CREATE TABLE IF NOT EXISTS pgq.effects (job_id bigint PRIMARY KEY, runs int NOT NULL DEFAULT 1, pid int NOT NULL)',
        )
        if (database === 'server') await superuserQuery(superuser, 'ALTER TABLE pgq.effects OWNER TO pgq_app')

        await staysUp(dev, 60_000) // deliberate: the uptime under test
        await superuserQuery(superuser, cutEveryone(new URL(url).pathname.slice(1)))
        await staysUp(dev, 15_000) // deliberate: past the pool's 10 s idle timeout

        const pgq = createPgq({ connectionString: url, schema: 'pgq', poolSize: 1 })
        try {
          if (withTasks) {
            const job = await pgq.enqueue('effect', { ms: 1 })
            await pgq.jobs.waitFor(job.id, { timeoutMs: 90_000 })
          } else {
            // the database is still there for an attached worker
            expect((await pgq.jobs.list({ limit: 1 })).length).toBeGreaterThanOrEqual(0)
          }
        } finally {
          await pgq.close()
        }
        expect(dev.exit()).toBeUndefined()
        dev.kill('SIGINT')
        expect(await dev.exited, dev.output()).toBe(0)
        if (dataDir) expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false)
      })
    }
  }
})
