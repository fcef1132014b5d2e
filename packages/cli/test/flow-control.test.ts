// Flow control with real worker processes (docs/flow-control.md): global concurrency per queue,
// pause and resume. Every assertion reads the database: the jobs table (claim times) and the
// side-effect tables the fixture's handlers write (handler start and end times).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'
import { useWorkerSuite } from './worker-suite.js'

const suite = useWorkerSuite([
  'TRUNCATE <schema>.jobs, <schema>.runs, <schema>.completions',
  'DELETE FROM <schema>.queues',
])
const worker = (args: string[]) => suite.worker(args)

const cli = (...args: string[]) =>
  runCli([...args, '--schema', suite.t.schema], { DATABASE_URL: suite.t.url })

async function one<T>(sql: string, values: unknown[] = []): Promise<T> {
  return (await suite.t.pool.query(sql, values)).rows[0].v as T
}

const jobs = () => `"${suite.t.schema}".jobs`

/** Most handlers running at once, from the start (runs) and end (completions) times they wrote. */
async function handlerOverlap(): Promise<number> {
  return one<number>(
    `SELECT coalesce(max(n), 0)::int AS v FROM (
       SELECT sum(d) OVER (ORDER BY at, d) AS n FROM (
         SELECT at, 1 AS d FROM "${suite.t.schema}".runs
         UNION ALL SELECT at, -1 FROM "${suite.t.schema}".completions) e) s`,
  )
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime, in clock ticks
}

describe('flow control (real worker processes)', () => {
  it('global concurrency 5 across 4 workers of local concurrency 20: never more than 5 running', async () => {
    const set = await cli('queue', 'set', 'default', '--concurrency', '5', '--json')
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ queue: 'default', concurrency: 5, paused: false })
    await suite.t.pgq.enqueueMany(Array.from({ length: 2000 }, () => ({ task: 'slow', payload: { ms: 5 } })))
    await Promise.all([1, 2, 3, 4].map(() => worker(['--concurrency', '20'])))
    let maxRunning = 0
    let samples = 0
    await waitFor(
      async () => {
        const running = await one<number>(
          `SELECT count(*)::int AS v FROM ${jobs()} WHERE state = 'running' AND queue = 'default'`,
        )
        maxRunning = Math.max(maxRunning, running)
        samples += 1
        return (
          (await one<number>(`SELECT count(*)::int AS v FROM ${jobs()} WHERE state = 'succeeded'`)) === 2000
        )
      },
      120_000,
      '2,000 succeeded',
    )
    expect(samples).toBeGreaterThan(10)
    expect(maxRunning).toBeLessThanOrEqual(5)
    expect(maxRunning).toBeGreaterThan(0)
    const overlap = await handlerOverlap()
    expect(overlap).toBeLessThanOrEqual(5)
    expect(overlap).toBeGreaterThanOrEqual(2) // the limit was reached, not just respected by idling
    expect(
      await one<number>(`SELECT count(DISTINCT pid)::int AS v FROM "${suite.t.schema}".runs`),
    ).toBeGreaterThan(1)
    expect(await one<number>(`SELECT count(*)::int AS v FROM "${suite.t.schema}".runs`)).toBe(2000)
  }, 180_000)

  it('pause: nothing starts for 5 s while running jobs finish; resume: the next job starts within 100 ms', async () => {
    await suite.t.pgq.enqueueMany(
      Array.from({ length: 3000 }, () => ({ task: 'slow', payload: { ms: 1000 } })),
    )
    await Promise.all([1, 2].map(() => worker(['--concurrency', '10'])))
    await waitFor(
      async () => (await one<number>(`SELECT count(*)::int AS v FROM "${suite.t.schema}".runs`)) >= 20,
      20_000,
      'jobs running',
    )
    await suite.t.pgq.queues.pause('default')
    const pausedAt = await one<Date>('SELECT clock_timestamp() AS v')
    const runningAtPause = await one<number>(
      `SELECT count(*)::int AS v FROM ${jobs()} WHERE state = 'running'`,
    )
    // the jobs running at the pause finish (no job is left running)
    await waitFor(
      async () =>
        (await one<number>(`SELECT count(*)::int AS v FROM ${jobs()} WHERE state = 'running'`)) === 0,
      10_000,
      'running jobs to finish',
    )
    console.log(
      'DEBUG',
      runningAtPause,
      pausedAt,
      (
        await suite.t.pool.query(
          `SELECT state, count(*), max(finished_at) mf, max(started_at) ms FROM ${jobs()} GROUP BY 1`,
        )
      ).rows,
    )
    const finishedAfterPause = await one<number>(
      `SELECT count(*)::int AS v FROM ${jobs()} WHERE state = 'succeeded' AND finished_at > $1`,
      [pausedAt],
    )
    expect(finishedAfterPause).toBeGreaterThan(0)
    expect(finishedAfterPause).toBeLessThanOrEqual(runningAtPause)
    // 5 s of pause: no claim, while 2 workers with free slots poll and thousands of jobs wait
    await waitFor(
      async () =>
        await one<number>("SELECT (clock_timestamp() - $1::timestamptz) > interval '5 s' AS v", [pausedAt]),
      10_000,
      '5 s of pause',
    )
    expect(
      await one<number>(`SELECT count(*)::int AS v FROM ${jobs()} WHERE started_at > $1`, [pausedAt]),
    ).toBe(0)
    const stats = await cli('stats')
    expect(stats.stdout).toMatch(/flow control:[\s\S]*default\s+paused/)

    const before = await one<Date>('SELECT clock_timestamp() AS v')
    await suite.t.pgq.queues.resume('default')
    const firstStart = await waitFor(
      () => one<Date | null>(`SELECT min(started_at) AS v FROM ${jobs()} WHERE started_at > $1`, [before]),
      5_000,
      'a job to start after resume',
    )
    const latencyMs = firstStart.getTime() - before.getTime()
    expect(latencyMs).toBeLessThan(100)
  }, 60_000)

  it('rate 50/s across 4 workers: every 1 s window stays within the limit plus one bucket, and the workers sleep', async () => {
    // about 7 s instead of the 20 s (CI time): the bucket holds 1 s of tokens, so a few
    // seconds already hold many complete 1 s windows past the first burst
    const set = await cli('queue', 'set', 'default', '--rate', '50/s')
    expect(set.code, set.stderr).toBe(0)
    await suite.t.pgq.enqueueMany(Array.from({ length: 2000 }, () => ({ task: 'record', payload: {} })))
    const workers = await Promise.all([1, 2, 3, 4].map(() => worker(['--concurrency', '20'])))
    const started = () => one<number>(`SELECT count(*)::int AS v FROM ${jobs()} WHERE started_at IS NOT NULL`)
    await waitFor(async () => (await started()) > 0, 20_000, 'the first start')
    const cpuBefore = workers.map((w) => cpuMs(w.pid))
    const wallBefore = performance.now()
    await waitFor(async () => (await started()) >= 350, 30_000, '350 jobs started (6 s at 50/s + the burst)')
    const wallMs = performance.now() - wallBefore
    const cpu = workers.map((w, i) => cpuMs(w.pid) - cpuBefore[i]!)
    // every window [start of a job, + 1 s): how many jobs started in it
    const windows = (
      await suite.t.pool.query<{ at: Date; n: number }>(
        `SELECT a.started_at AS at, (SELECT count(*)::int FROM ${jobs()} AS b
           WHERE b.started_at >= a.started_at AND b.started_at < a.started_at + interval '1 s') AS n
         FROM ${jobs()} AS a WHERE a.started_at IS NOT NULL ORDER BY a.started_at`,
      )
    ).rows
    const first = windows[0]!.at.getTime()
    const last = windows.at(-1)!.at.getTime()
    const complete = windows.filter((w) => w.at.getTime() + 1000 <= last)
    const most = Math.max(...complete.map((w) => w.n))
    const spanS = (last - first) / 1000
    console.log(
      `rate test: ${windows.length} starts over ${spanS.toFixed(2)} s, at most ${most} in a 1 s window; ` +
        `CPU ms per worker ${cpu.map(Math.round).join(', ')} over ${Math.round(wallMs)} ms`,
    )
    expect(spanS).toBeGreaterThan(5)
    // the limit plus one bucket of burst (docs/flow-control.md); + 2 for the skew between a claim's
    // started_at (its transaction's start) and the bucket's clock (read once the row lock is held)
    expect(most).toBeLessThanOrEqual(102)
    // over the whole run: one bucket plus the rate, and the rate is actually reached
    expect(windows.length).toBeLessThanOrEqual(50 + Math.ceil(50 * spanS) + 1)
    expect(windows.length).toBeGreaterThanOrEqual(0.7 * 50 * spanS)
    // rate-limited workers sleep until the next token: well under 20 % of one core each
    for (const ms of cpu) expect(ms).toBeLessThan(wallMs * 0.2)
  }, 90_000)

  it('pgq queue pause|resume|set|list; rejects a zero, negative or malformed limit, changing nothing', async () => {
    expect((await cli('queue', 'pause', 'q1')).stdout).toContain('paused q1')
    expect(await one<boolean>(`SELECT paused AS v FROM "${suite.t.schema}".queues WHERE name = 'q1'`)).toBe(
      true,
    )
    expect((await cli('queue', 'resume', 'q1')).stdout).toContain('resumed q1')
    expect(await one<boolean>(`SELECT paused AS v FROM "${suite.t.schema}".queues WHERE name = 'q1'`)).toBe(
      false,
    )
    await cli('queue', 'set', 'default', '--concurrency', '3')
    for (const value of ['0', '-2', 'five']) {
      const result = await cli('queue', 'set', 'default', '--concurrency', value)
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/concurrency/)
    }
    for (const value of ['0/s', '10/fortnight', 'ten/s']) {
      const result = await cli('queue', 'set', 'default', '--rate', value, '--concurrency', '4')
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/limits\.rate/)
    }
    await expect(suite.t.pgq.queues.set('default', { concurrency: 0 })).rejects.toMatchObject({
      code: 'PGQ_INVALID_INPUT',
      path: 'limits.concurrency',
    })
    await expect(suite.t.pgq.queues.set('bad name', { concurrency: 2 })).rejects.toMatchObject({
      path: 'queue',
    })
    expect(
      await one<number>(`SELECT concurrency AS v FROM "${suite.t.schema}".queues WHERE name = 'default'`),
    ).toBe(3)
    const list = await cli('queue', 'list', '--json')
    expect(JSON.parse(list.stdout)).toEqual([
      {
        queue: 'default',
        paused: false,
        concurrency: 3,
        rate: null,
        running: 0,
        waiting: 0,
        keyConcurrency: null,
        ordered: false,
        keyRate: null,
      },
      {
        queue: 'q1',
        paused: false,
        concurrency: null,
        rate: null,
        running: 0,
        waiting: 0,
        keyConcurrency: null,
        ordered: false,
        keyRate: null,
      },
    ])
    const removed = await cli('queue', 'set', 'default', '--concurrency', 'none', '--json')
    expect(JSON.parse(removed.stdout)).toMatchObject({ queue: 'default', concurrency: null })
  })
})
