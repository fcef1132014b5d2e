// Observability of real `pgq` processes, checked from outside: the worker's HTTP port (/metrics,
// /healthz, /readyz), `pgq workers` before and after a worker stops, and `pgq health`'s exit codes.
import parsePrometheus from 'parse-prometheus-text-format'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../pgq/src/migrate/migrations.js'
import { Migrator } from '../../pgq/src/migrate/migrator.js'
import {
  createTestSchema,
  databaseUrl,
  type TestSchema,
  uniqueSchemaName,
  waitFor,
} from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'
import { createSideEffectTables, startWorkerProcess, type WorkerProcess } from './worker-process.js'

let t: TestSchema
let env: Record<string, string>
const processes: WorkerProcess[] = []

beforeAll(async () => {
  t = await createTestSchema()
  env = { DATABASE_URL: t.url, PGQ_SCHEMA: t.schema }
  await createSideEffectTables(t)
})
afterEach(async () => {
  for (const p of processes.splice(0)) {
    p.kill('SIGKILL')
    await p.exited
  }
  await t.pool.query(`TRUNCATE "${t.schema}".jobs, "${t.schema}".workers`)
})
afterAll(async () => {
  await t.drop()
})

async function worker(args: string[] = []): Promise<WorkerProcess> {
  const p = await startWorkerProcess(['--schema', t.schema, '--log-level', 'warn', ...args], env)
  processes.push(p)
  return p
}

/** The base URL the worker printed for its HTTP port. */
async function probeUrl(p: WorkerProcess): Promise<string> {
  const match = await waitFor(() => /serving \/metrics, \/healthz, \/readyz on (http:\S+)/.exec(p.log()))
  return match[1]!
}

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string> }[] }

async function metrics(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`)
  expect(res.status).toBe(200)
  const families = parsePrometheus(await res.text()) as Family[]
  return new Map(families.map((f) => [f.name, f]))
}

const sample = (m: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  m.get(name)?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))?.value

async function workersJson(): Promise<
  { pid: number; status: string; runningJobs: number; queues: string[] }[]
> {
  const out = await runCli(['workers', '--json', '--schema', t.schema], env)
  expect(out.code, out.stderr).toBe(0)
  return JSON.parse(out.stdout).workers
}

describe('pgq work --http-port', () => {
  it('serves /healthz, /readyz and parseable /metrics; answers 503 while stopping; exits 0 on SIGTERM; pgq workers sees it live, then gone', async () => {
    const p = await worker(['--http-port', '0', '--shutdown-grace', '4000'])
    const base = await probeUrl(p)
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/) // loopback by default
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ state: 'running', live: true, ready: true })
    expect((await fetch(`${base}/nope`)).status).toBe(404)

    const { id } = await t.pgq.enqueue('record', {})
    await waitFor(
      async () => sample(await metrics(base), 'pgq_jobs_completed_total', { outcome: 'succeeded' }) === '1',
    )
    const m = await metrics(base)
    expect(sample(m, 'pgq_jobs_started_total', { queue: 'default', task: 'record' })).toBe('1')
    expect(sample(m, 'pgq_workers_alive')).toBe('1')
    expect(sample(m, 'pgq_queue_workers_alive', { queue: 'default' })).toBe('1')
    expect(sample(m, 'pgq_database_up')).toBe('1')
    expect(
      (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0].state,
    ).toBe('succeeded')

    // pgq workers (a separate process) lists this worker as alive, with its running job
    await t.pgq.enqueue('slow', { ms: 60_000 })
    const [live] = await waitFor(async () => {
      const list = await workersJson()
      return list[0]?.runningJobs === 1 && list
    })
    expect(live).toMatchObject({ pid: p.pid, status: 'alive', queues: ['default'] })

    // SIGTERM: the slow job keeps it stopping for the grace period; liveness says so
    p.kill('SIGTERM')
    await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 503, 4_000)
    expect(await p.exited).toBe(0)
    await expect(fetch(`${base}/healthz`)).rejects.toThrow() // the port is closed
    const [gone] = await workersJson()
    expect(gone).toMatchObject({ pid: p.pid, status: 'stopped', runningJobs: 0 })
    const text = await runCli(['workers', '--schema', t.schema], env)
    expect(text.stdout).toMatch(/^no live workers\n\nrecently gone:\nHOST +PID +QUEUES/)
  })

  it('refuses a bad port (64) and a port in use (78)', async () => {
    const bad = await runCli(['work', '--tasks', 'x.mjs', '--http-port', '70000'], env)
    expect(bad.code).toBe(64)
    expect(bad.stderr).toMatch(/--http-port.*must be an integer from 0 to 65535/)
    const p = await worker(['--http-port', '0'])
    const port = new URL(await probeUrl(p)).port
    const clash = await startWorkerProcess(['--schema', t.schema, '--http-port', port], env, {
      waitReady: false,
    })
    expect(await clash.exited).toBe(78)
    expect(clash.log()).toMatch(/--http-port: cannot listen on 127\.0\.0\.1:\d+/)
  })
})

describe('pgq health', () => {
  const health = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['health', '--schema', t.schema, ...args], { ...env, ...extra })

  it('fails when no live worker serves a queue, passes once one does', async () => {
    const none = await health(['--queue', 'default'])
    expect(none.code).toBe(1)
    expect(none.stdout).toBe('unhealthy: workers:default: no live worker serves queue "default"\n')
    await worker()
    const ok = await health(['--queue', 'default', '--max-lag', '60s'])
    expect(ok.stdout).toMatch(
      /^healthy: database reachable; schema ".*" current; 1 live worker\(s\) serve "default"; lag under 1m00s\n$/,
    )
    expect(ok.code).toBe(0)
    const json = await health(['--queue', 'default,emails', '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({
      healthy: false,
      checks: [
        { check: 'database', status: 'ok' },
        { check: 'schema', status: 'ok' },
        { check: 'workers:default', status: 'ok' },
        { check: 'workers:emails', status: 'failed' },
      ],
    })
  })

  it('fails when a queue lags past --max-lag', async () => {
    await t.pgq.enqueue('nobody_runs_this', {}, { queue: 'stuck' })
    await t.pool.query(`UPDATE "${t.schema}".jobs SET run_at = now() - interval '2 minutes'`)
    const late = await health(['--max-lag', '60s'])
    expect(late.code).toBe(1)
    expect(late.stdout).toMatch(/^unhealthy: lag: queue "stuck" lags 2m0\ds \(max 1m00s\)\n$/)
    expect((await health(['--max-lag', '5m'])).code).toBe(0)
    expect((await health(['--max-lag', '60s', '--queue', 'other'])).stdout).not.toMatch(/lag:/) // only the named queues
  })

  it('fails when the schema is behind this pgq, and when the database is unreachable', async () => {
    const schema = uniqueSchemaName('old')
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 })
    try {
      await new Migrator({ pool, schema }, MIGRATIONS.slice(0, -1)).migrate()
      const behind = await runCli(['health', '--schema', schema, '--queue', 'default'], env)
      expect(behind.code).toBe(1)
      expect(behind.stdout).toMatch(
        new RegExp(
          `^unhealthy: schema: .*"${schema}" is at migration ${MIGRATIONS.at(-2)!.version}, this pgq expects ${MIGRATIONS.at(-1)!.version}`,
        ),
      )
      expect(behind.stdout.trim().split('\n')).toHaveLength(1) // the worker check is skipped, not failed
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.end()
    }
    const down = await health(['--timeout', '2s'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' })
    expect(down.code).toBe(1)
    expect(down.stdout).toMatch(/^unhealthy: database: unreachable: /)
    const usage = await health(['--max-lag', '60'])
    expect(usage.code).toBe(64)
    expect(usage.stderr).toMatch(/--max-lag.*must be a duration like/)
  })
})
