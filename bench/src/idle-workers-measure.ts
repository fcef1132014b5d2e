import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createPgq } from '@pgq/core'
import pg from 'pg'
import type { IdleChildArgs, IdleChildMessage, IdleCounts } from './idle-worker-child.js'
import type { BenchPgBouncer } from './pgbouncer.js'
import { epochMs, ident, sleep } from './sql-names.js'
import { percentile } from './stats.js'
import { BENCH_ROOT } from './versions.js'

/** What {@link measureIdleWorkers} runs. */
export interface IdleWorkersOptions {
  /** PostgreSQL itself (the LISTEN connections and the counts always go here). */
  readonly databaseUrl: string
  /** Worker processes to start (each one pgq worker with its defaults). */
  readonly workers: number
  /** Jobs enqueued one at a time, each after the previous one finished (default 20). */
  readonly jobs?: number
  /** Idle time before connections are counted, ms (default 12 000: past node-postgres's idle timeout). */
  readonly settleMs?: number
  /** Quiet time after each job finishes, before the next is enqueued, ms (default 200). */
  readonly gapMs?: number
  /** Route the workers' pools (not their LISTEN) through this PgBouncer. */
  readonly pgbouncer?: BenchPgBouncer
  readonly log?: (line: string) => void
}

/** Claim statements, per job or per second. */
export interface ClaimRates {
  readonly statements: number
  readonly claims: number
  readonly emptyClaims: number
}

/** The figures of one run. */
export interface IdleWorkersResult {
  readonly workers: number
  readonly jobs: number
  readonly pgbouncer: string | null
  /**
   * Backends of this database by application name (the workers' pools are `pgq_idle_worker`, their
   * LISTEN connections `pgq_listener`; through PgBouncer its server connections carry the name
   * of the client they last served), the harness's own excluded.
   */
  readonly backendsByApplication: Record<string, number>
  /** PostgreSQL backends opened since the workers started (in total, and per worker process). */
  readonly backends: number
  readonly backendsPerWorker: number
  /** With PgBouncer: client connections it holds from the workers (server ones are in `backends`). */
  readonly pgbouncerClients: number | null
  /** What all workers together send while idle, per second (the 1 s poll of every worker). */
  readonly idlePerSecond: ClaimRates
  /** Counted while jobs ran, minus the idle rate over the same time, per job. */
  readonly perJob: ClaimRates
  /** Enqueue (before the call) to handler start, ms. */
  readonly latencyP50Ms: number
  readonly latencyP99Ms: number
  readonly latencyMaxMs: number
  /** Jobs each worker ran (how the wake-ups were won). */
  readonly winners: number
}

const TASK = 'idle_noop'

function sum(counts: IdleCounts[]): ClaimRates {
  return counts.reduce(
    (a, c) => ({
      statements: a.statements + c.statements,
      claims: a.claims + c.claims,
      emptyClaims: a.emptyClaims + c.emptyClaims,
    }),
    { statements: 0, claims: 0, emptyClaims: 0 },
  )
}

function minus(a: ClaimRates, b: ClaimRates): ClaimRates {
  return {
    statements: a.statements - b.statements,
    claims: a.claims - b.claims,
    emptyClaims: a.emptyClaims - b.emptyClaims,
  }
}

function scale(a: ClaimRates, factor: number): ClaimRates {
  return { statements: a.statements * factor, claims: a.claims * factor, emptyClaims: a.emptyClaims * factor }
}

/**
 * Starts `workers` pgq worker processes (defaults, one queue) on one database, lets them idle,
 * counts the connections they hold, then enqueues jobs one at a time and counts what each one
 * cost: statements and claim statements sent by all workers (minus what they send idle over the
 * same time), the claims that found nothing, and enqueue→start latency.
 *
 * ```ts
 * const result = await measureIdleWorkers({ databaseUrl, workers: 100 })
 * console.log(result.perJob.emptyClaims)
 * ```
 */
export async function measureIdleWorkers(options: IdleWorkersOptions): Promise<IdleWorkersResult> {
  const { databaseUrl, workers } = options
  const jobs = options.jobs ?? 20
  const gapMs = options.gapMs ?? 200
  const log = options.log ?? (() => {})
  const schema = `bench_idle_${randomBytes(4).toString('hex')}`
  const harness = new pg.Pool({
    connectionString: databaseUrl,
    max: 1,
    application_name: 'pgq_bench_harness',
  })
  harness.on('error', () => {})
  const producer = createPgq({ connectionString: databaseUrl, schema, poolSize: 1 })
  const children: ChildProcess[] = []
  const inbox: IdleChildMessage[][] = []
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const waiter of waiters) waiter()
  }
  /** Resolves once `test` holds over the messages so far (checked on each new message). */
  const until = (test: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!test()) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`idle-workers: timed out waiting for ${what}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  const countsNow = async (): Promise<ClaimRates> => {
    const seen = inbox.map((messages) => messages.length)
    for (const child of children) child.send({ kind: 'counts' })
    const latest = () =>
      inbox.map(
        (messages, i) => messages.slice(seen[i]).find((m) => m.kind === 'counts') as IdleCounts | undefined,
      )
    await until(() => latest().every(Boolean), 10_000, 'counters')
    return sum(latest() as IdleCounts[])
  }
  const backendsNow = async () =>
    (
      await harness.query<{ app: string; n: number }>(
        `SELECT coalesce(nullif(application_name, ''), '(none)') AS app, count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'client backend'
            AND pid <> pg_backend_pid()
          GROUP BY 1 ORDER BY 1`,
      )
    ).rows
  try {
    await producer.migrate()
    await producer.pool.query('SELECT 1')
    const baseline = (await backendsNow()).reduce((a, r) => a + r.n, 0)
    const child = join(BENCH_ROOT, 'dist', 'idle-worker-child.js')
    const args: IdleChildArgs = {
      poolUrl: options.pgbouncer?.url ?? databaseUrl,
      listenUrl: databaseUrl,
      schema,
      task: TASK,
    }
    const started = performance.now()
    for (let i = 0; i < workers; i++) {
      const proc = fork(child, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      const messages: IdleChildMessage[] = []
      inbox.push(messages)
      children.push(proc)
      proc.on('message', (message: IdleChildMessage) => {
        messages.push(message)
        notify()
      })
      proc.once('exit', (code) => {
        if (code !== 0) log(`worker process ${i} exited with code ${code}`)
      })
    }
    const ready = () => inbox.every((messages) => messages.some((m) => m.kind === 'ready'))
    await until(ready, 60_000 + workers * 5_000, 'every worker to start')
    log(`${workers} workers started in ${((performance.now() - started) / 1000).toFixed(1)} s; idling`)
    await sleep(options.settleMs ?? 12_000)

    const rows = await backendsNow()
    const backendsByApplication = Object.fromEntries(rows.map((r) => [r.app, r.n]))
    const backends = rows.reduce((a, r) => a + r.n, 0) - baseline
    const pgbouncerClients = options.pgbouncer ? (await options.pgbouncer.pools()).clients : null
    log(`connections: ${JSON.stringify(backendsByApplication)} (${baseline} before the workers started)`)

    // Jobs, one at a time.
    const latencies: number[] = []
    const before = await countsNow()
    const t0 = performance.now()
    for (let id = 1; id <= jobs; id++) {
      const enqueuedAt = epochMs()
      const job = await producer.enqueue(TASK, { id })
      const finished = () =>
        inbox.some((messages) => messages.some((m) => m.kind === 'finished' && m.jobId === job.id))
      await until(finished, 30_000, `job ${id}`)
      const start = inbox.flat().find((m) => m.kind === 'started' && m.id === id)
      if (start?.kind === 'started') latencies.push(start.atMs - enqueuedAt)
      await sleep(gapMs)
    }
    const busyMs = performance.now() - t0
    const during = minus(await countsNow(), before)

    // The same time idle, for the poll's share.
    const idleBefore = await countsNow()
    const i0 = performance.now()
    await sleep(busyMs)
    const idleMs = performance.now() - i0
    const idle = minus(await countsNow(), idleBefore)
    const idlePerSecond = scale(idle, 1000 / idleMs)
    const perJob = scale(minus(during, scale(idlePerSecond, busyMs / 1000)), 1 / jobs)
    const winners = inbox.filter((messages) => messages.some((m) => m.kind === 'started')).length
    latencies.sort((a, b) => a - b)
    return {
      workers,
      jobs,
      pgbouncer: options.pgbouncer?.version ?? null,
      backendsByApplication,
      backends,
      backendsPerWorker: backends / workers,
      pgbouncerClients,
      idlePerSecond,
      perJob,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      latencyMaxMs: latencies.at(-1) ?? Number.NaN,
      winners,
    }
  } finally {
    const exits = children.map(
      (proc) =>
        new Promise<void>((resolve) =>
          proc.exitCode === null ? proc.once('exit', () => resolve()) : resolve(),
        ),
    )
    for (const proc of children) if (proc.connected) proc.send({ kind: 'stop' })
    const killer = setTimeout(() => {
      for (const proc of children) if (proc.exitCode === null) proc.kill('SIGKILL')
    }, 15_000)
    await Promise.all(exits)
    clearTimeout(killer)
    await producer.close().catch(() => {})
    await harness.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`).catch(() => {})
    await harness.end()
  }
}
