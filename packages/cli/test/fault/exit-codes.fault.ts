// How `pgq work` ends, checked from outside: exit 0 only after SIGINT/SIGTERM; otherwise a
// documented non-zero code and one clear line (docs/operations.md#exit-codes).
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '@pgq/embedded'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../../pgq/test/test-database.js'
import { runCli } from '../run-cli.js'
import { createWorld, enqueueBatch, SCHEMA, type World } from './harness.js'
import { FAULT_TASKS, killAll, spawnPgq, startWorker, waitForLine } from './processes.js'

const fixture = (name: string) => join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name)

let world: World
beforeAll(async () => {
  world = await createWorld()
})
afterAll(async () => {
  await killAll()
  await world.close()
})

/** Runs `pgq work …` to its end; returns the exit code and the last stderr line. */
async function work(args: string[], env: Record<string, string | undefined> = world.env) {
  const result = await runCli(['work', ...args], env, 240_000) // a loaded machine starts node slowly
  const lines = result.stderr.trim().split('\n')
  return { code: result.code, last: lines.at(-1) ?? '', stderr: result.stderr }
}

describe('pgq work exit codes', () => {
  it('64 for a bad option value, an unknown option, a missing database URL', async () => {
    expect(await work(['--tasks', FAULT_TASKS, '--concurrency', 'many'])).toMatchObject({
      code: 64,
      last: 'pgq: --concurrency must be an integer, got "many" (exit 64)',
    })
    expect((await work(['--tasks', FAULT_TASKS, '--no-such-option'])).code).toBe(64)
    expect((await work(['--tasks', FAULT_TASKS], { DATABASE_URL: undefined })).code).toBe(64)
  })

  it('78 for a tasks module that cannot load or exports no tasks', async () => {
    const broken = await work(['--tasks', fixture('broken.mjs')])
    expect(broken.code).toBe(78)
    expect(broken.last).toMatch(
      /^pgq: cannot load the tasks module .*broken\.mjs: this module is broken on purpose \(exit 78\)$/,
    )
    expect((await work(['--tasks', fixture('no-tasks.mjs')])).last).toMatch(/exports no tasks .*\(exit 78\)$/)
  })

  it('78 for a schema that is not migrated', async () => {
    const result = await work(['--tasks', FAULT_TASKS, '--schema', 'not_migrated'])
    expect(result.code).toBe(78)
    expect(result.last).toMatch(/schema "not_migrated" is at migration 0.*pgq migrate.*\(exit 78\)$/)
  })

  it('69 when the database stays unreachable past --connect-timeout, after one waiting line', async () => {
    const port = await freePort()
    const started = Date.now()
    const result = await work(['--tasks', FAULT_TASKS, '--connect-timeout', '2000'], {
      DATABASE_URL: `postgres://pgq_app@127.0.0.1:${port}/app`,
      PGQ_SCHEMA: SCHEMA,
    })
    expect(result.code).toBe(69)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
    expect(result.last).toMatch(
      /^pgq: database unreachable for 2000 ms \(--connect-timeout\): .*ECONNREFUSED.* \(exit 69\)$/,
    )
    expect(result.stderr.match(/database unreachable; retrying/g)).toHaveLength(1)
  })

  it('waits for a database that comes up within --connect-timeout, then works', async () => {
    await world.cluster.stop()
    const p = spawnPgq(
      'late',
      ['work', '--tasks', FAULT_TASKS, '-Q', 'late=2', '--connect-timeout', '60000'],
      world.env,
    )
    await waitForLine(p, /database unreachable; retrying/)
    await world.cluster.start()
    await waitForLine(p, / ready \(/)
    const [id] = await enqueueBatch(world, 'late', 1, { ms: 1 })
    const job = await world.pgq.jobs.waitFor(id!, { timeoutMs: 20_000 })
    expect(job).toMatchObject({ pid: p.pid })
    p.kill('SIGTERM')
    expect(await p.exited).toBe(0)
  })

  it('an idle worker outlives pg_terminate_backend of every backend and a restart, then exits 0 on SIGTERM', async () => {
    // before the fix: exit 0 within a second of losing its connections (nothing held the event loop)
    const w = await startWorker('idle', ['-Q', 'idle=2'], world.env)
    expect(await world.cluster.terminateAll('app')).toBeGreaterThan(0)
    // it reconnects (the test's own pool stays idle meanwhile) — or, without the fix, it is gone
    await waitFor(
      async () => {
        if (w.exit() !== undefined) return true
        const [row] = await world.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'app' AND usename = 'pgq_app'",
        )
        return row!.n > 0
      },
      30_000,
      'the worker reconnected',
    )
    expect(w.exit(), w.output()).toBeUndefined()
    await world.cluster.stop()
    await world.cluster.start()
    const [id] = await enqueueBatch(world, 'idle', 1, { ms: 1 })
    expect(await world.pgq.jobs.waitFor(id!, { timeoutMs: 30_000 })).toEqual({ pid: w.pid })
    expect(w.exit(), w.output()).toBeUndefined()
    w.kill('SIGTERM')
    expect(await w.exited, w.output()).toBe(0)
  })

  it('pgq schedule run outlives pg_terminate_backend of every backend, keeps firing, exits 0 on SIGTERM', async () => {
    const s = spawnPgq('scheduler', ['schedule', 'run', '--schedules', FAULT_TASKS], {
      ...world.env,
      FAULT_SCHEDULE: '1',
    })
    await waitForLine(s, /scheduler started/)
    const ticks = async () =>
      (
        await world.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.jobs WHERE schedule_name = 'tick'`,
        )
      )[0]!.n
    await waitFor(async () => (await ticks()) > 0, 20_000, 'a first tick')
    expect(await world.cluster.terminateAll('app')).toBeGreaterThan(0)
    const after = await ticks()
    await waitFor(async () => s.exit() !== undefined || (await ticks()) > after + 2, 30_000, 'more ticks')
    expect(s.exit(), s.output()).toBeUndefined()
    s.kill('SIGTERM')
    expect(await s.exited, s.output()).toBe(0)
  })

  it('0 after SIGTERM or SIGINT; a second signal during the graceful stop exits 130 at once', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const w = await startWorker(`stop-${signal}`, ['-Q', 'stop=2'], world.env)
      w.kill(signal)
      expect(await w.exited, w.output()).toBe(0)
    }
    const w = await startWorker('twice', ['-Q', 'twice=2', '--shutdown-grace', '60000'], world.env)
    const [id] = await enqueueBatch(world, 'twice', 1, { ms: 60_000 })
    await waitFor(
      async () => (await world.pgq.jobs.get(id!))?.state === 'running',
      20_000,
      'the long job running',
    )
    w.kill('SIGINT')
    await waitForLine(w, /stopping: finishing running jobs/)
    w.kill('SIGINT')
    expect(await w.exited).toBe(130)
  })
})
