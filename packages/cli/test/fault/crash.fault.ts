// Workers that die or stall: kill -9 of a worker holding jobs (default lease and rescue interval),
// an event loop blocked past its lease, and schedulers killed at random across many ticks.
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../../pgq/test/test-database.js'
import {
  createWorld,
  enqueueBatch,
  enqueueCommitted,
  expectExactlyOnce,
  SCHEMA,
  type World,
  waitAllSucceeded,
} from './harness.js'
import { killAll, startWorker, stopGracefully, type WorkerProcess } from './processes.js'

const worlds: World[] = []
afterAll(async () => {
  await killAll()
  await Promise.all(worlds.map((w) => w.close()))
})

async function world(): Promise<World> {
  const w = await createWorld()
  worlds.push(w)
  return w
}

async function heldBy(w: World, workerId: string): Promise<string[]> {
  const rows = await w.query<{ id: string }>(
    `SELECT id::text AS id FROM ${SCHEMA}.jobs WHERE locked_by = $1 AND state = 'running'`,
    [workerId],
  )
  return rows.map((r) => r.id)
}

describe.concurrent('workers that die or stall', () => {
  it('kill -9 of a worker holding jobs, default settings: its jobs finish on another worker within 30 s', async () => {
    const w = await world()
    const a = await startWorker('A', ['-Q', 'crash=10'], w.env)
    const b = await startWorker('B', ['-Q', 'crash=10'], w.env)
    const ids = await enqueueBatch(w, 'crash', 30, { ms: 3000 })
    // the snapshot right before the kill: A's running jobs are in their 3 s sleep
    const held = await waitFor(
      async () => {
        const jobs = await heldBy(w, a.workerId)
        return jobs.length >= 3 ? jobs : undefined
      },
      20_000,
      'A holding jobs',
    )
    a.kill('SIGKILL')
    const killedAt = Date.now()
    expect(await a.exited).toBe('SIGKILL')

    await waitAllSucceeded(w, held, 30_000)
    const took = Date.now() - killedAt
    expect(took).toBeLessThan(30_000)
    await waitAllSucceeded(w, ids, 30_000)
    // A's jobs ran on B (A died in their 4 s sleep, before recording anything)
    const rows = await w.query<{ pid: number }>(
      `SELECT pid FROM ${SCHEMA}.effects WHERE job_id = ANY($1::bigint[])`,
      [held],
    )
    expect(new Set(rows.map((r) => r.pid))).toEqual(new Set([b.pid]))
    await expectExactlyOnce(w, ids)
    console.log(`kill -9: ${held.length} held jobs finished ${took} ms after the kill`)
    expect(await stopGracefully(b), b.output()).toBe(0)
  })

  it('an event loop blocked past its lease: the job is rescued, the late outcome is fenced off, the worker lives on', async () => {
    const w = await world()
    // A blocks its event loop for 25 s inside the handler; the lease is 15 s (default)
    // R runs before the stall so that a rescuer surely looks while A is blocked (every worker
    // rescues, whatever its queues); B, started later, may take the job over
    await startWorker('R', ['-Q', 'other=1'], w.env)
    const a = await startWorker('A', ['-Q', 'stall=2'], { ...w.env, FAULT_STALL: '1' })
    const [id] = await enqueueCommitted(w, 'stall', 1, { stallMs: 25_000, ms: 8000 })
    await waitFor(async () => (await heldBy(w, a.workerId)).includes(id!), 20_000, 'A running the job')
    const b = await startWorker('B', ['-Q', 'stall=2'], w.env)
    await waitAllSucceeded(w, [id!], 120_000)
    // A wakes up and finds its lease gone (documented: its signal aborts with reason lease-lost,
    // `job:lease-lost` is emitted, logged as "lease lost"), so the stalled run records nothing
    const lost = new RegExp(`lease lost job=${id}\\b`)
    await waitFor(() => a.lines.some((l) => lost.test(l.text)), 90_000, 'A logging its lost lease').catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${a.output()}`)
      },
    )
    const [job] = await w.query<{
      state: string
      result: { pid: number }
      locked_by: string | null
      interruptions: number
    }>(`SELECT state, result, locked_by, interruptions FROM ${SCHEMA}.jobs WHERE id = $1`, [id])
    // one interruption (the expired lease), then one run that counted: usually B's, but a loaded
    // machine may let A claim the requeued job again once it wakes (a fresh lease: legitimate)
    expect(job).toMatchObject({ state: 'succeeded', locked_by: null, interruptions: 1 })
    expect([a.pid, b.pid]).toContain(job!.result.pid)
    if (job!.result.pid === b.pid) {
      // the stalled run's outcome was dropped: A must not report it as a success
      expect(a.output()).not.toMatch(new RegExp(`job succeeded job=${id}\\b`))
    }
    // A still works: stop B, give A a job
    expect(await stopGracefully(b), b.output()).toBe(0)
    const [next] = await enqueueCommitted(w, 'stall', 1, { ms: 1 })
    await waitAllSucceeded(w, [next!], 30_000)
    await expectExactlyOnce(w, [id!, next!])
    expect(a.exit(), a.output()).toBeUndefined()
    expect(await stopGracefully(a), a.output()).toBe(0)
  })

  it('schedulers killed at random across many ticks: every tick fired once, none lost', async () => {
    const w = await world()
    const env = { ...w.env, FAULT_SCHEDULE: '1' }
    // kill a random ready scheduler every 0.5-3 s while at least two are ready, replacing each
    // (started in the background, so kills do not wait for replacements): >= 60 s and >= 10 kills
    const alive: WorkerProcess[] = []
    let started = 0
    const starting: Promise<void>[] = []
    const spawnOne = () => {
      started += 1
      const name = `s${started}`
      starting.push(
        startWorker(name, ['-Q', 'ticks=5', '--log-level', 'warn'], env).then((p) => void alive.push(p)),
      )
    }
    for (let i = 0; i < 3; i++) spawnOne()
    await Promise.all(starting)
    const until = Date.now() + 60_000
    const hardStop = Date.now() + 180_000 // a loaded machine starts replacements slowly
    let kills = 0
    while (Date.now() < until || (kills < 10 && Date.now() < hardStop)) {
      // deliberate random pauses: the kills must land at arbitrary points of the scheduler's pass
      await new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 2500))
      if (alive.length < 2) continue
      const victim = alive.splice(Math.floor(Math.random() * alive.length), 1)[0]!
      victim.kill('SIGKILL')
      await victim.exited
      kills += 1
      spawnOne()
    }
    await Promise.all(starting)
    expect(kills).toBeGreaterThanOrEqual(5)
    // the last ticks' jobs, including any held by a killed scheduler, finish (lease 15 s + rescue 5 s)
    await waitFor(
      async () => {
        const [row] = await w.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.jobs WHERE schedule_name = 'tick' AND state <> 'succeeded'`,
        )
        return row!.n === 0
      },
      60_000,
      'every tick job succeeded',
    )
    for (const s of alive) expect(await stopGracefully(s), s.output()).toBe(0)
    // a tick fired just before the last scheduler stopped may have found no claimer left: a worker
    // without a scheduler (it leaves the schedule alone) runs what is still due
    const drain = await startWorker(
      'drain',
      ['-Q', 'ticks=5', '--no-scheduler', '--log-level', 'warn'],
      w.env,
    )
    await waitFor(
      async () => {
        const [row] = await w.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.jobs WHERE schedule_name = 'tick' AND state <> 'succeeded'`,
        )
        return row!.n === 0
      },
      30_000,
      'the last ticks succeeded',
    )
    expect(await stopGracefully(drain), drain.output()).toBe(0)

    const ticks = await w.query<{ id: string; at: Date; interruptions: number }>(
      `SELECT id::text AS id, scheduled_for AS at, interruptions FROM ${SCHEMA}.jobs
        WHERE schedule_name = 'tick' ORDER BY scheduled_for`,
    )
    expect(ticks.length).toBeGreaterThan(50)
    const seconds = ticks.map((t) => t.at.getTime() / 1000)
    const gaps = seconds.slice(1).filter((s, i) => s - seconds[i]! !== 1)
    expect(gaps, 'ticks missing or fired twice').toEqual([])
    // a tick job may run again only if a killed worker was running it (interrupted)
    await expectExactlyOnce(
      w,
      ticks.map((t) => t.id),
      new Set(ticks.filter((t) => t.interruptions > 0).map((t) => t.id)),
    )
    // the schedule's bookkeeping moved with its jobs, in the same transactions, through every kill
    const [schedule] = await w.query<{ last_run_at: Date; last_job_id: string }>(
      `SELECT last_run_at, last_job_id::text AS last_job_id FROM ${SCHEMA}.schedules WHERE name = 'tick'`,
    )
    expect(schedule).toEqual({ last_run_at: ticks.at(-1)!.at, last_job_id: ticks.at(-1)!.id })
    console.log(`schedulers: ${kills} kills, ${ticks.length} ticks, each fired once`)
  })
})
