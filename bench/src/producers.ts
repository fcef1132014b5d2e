import type pg from 'pg'
import type { BenchPayload, BenchSystem, ProducerVariant } from './types.js'

/** What one run of concurrent producers measured. */
export interface ProducersResult {
  readonly jobsPerSecond: number
  /** Commits per second in the database over the run (all sessions; the producers' dominate). */
  readonly commitsPerSecond: number
  /** WAL flushes (fsyncs) per commit: below 1 when commits share a flush (group commit). */
  readonly flushesPerCommit: number
  /** Share of the producers' backend samples per wait event (`CPU` when not waiting), largest first. */
  readonly waits: ReadonlyArray<readonly [string, number]>
}

/** `application_name` of the producers' connections, so the sampler sees only them. */
export const PRODUCERS_APP = 'pgq_bench_producers'

/** `url` with `application_name` set to {@link PRODUCERS_APP}. */
export function producersUrl(url: string): string {
  const u = new URL(url)
  u.searchParams.set('application_name', PRODUCERS_APP)
  return u.toString()
}

/** Commits of the database and WAL fsyncs of the server (pg_stat_io from PostgreSQL 18, else pg_stat_wal). */
async function counters(pool: pg.Pool): Promise<{ commits: number; flushes: number }> {
  await pool.query('SELECT pg_stat_clear_snapshot()')
  const v = await pool.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`)
  const flushes =
    v.rows[0]!.v >= 180000
      ? `(SELECT sum(fsyncs) FROM pg_stat_io WHERE object = 'wal')`
      : '(SELECT wal_sync FROM pg_stat_wal)'
  const { rows } = await pool.query<{ commits: string; flushes: string | null }>(
    `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
            ${flushes} AS flushes`,
  )
  return { commits: Number(rows[0]?.commits ?? 0), flushes: Number(rows[0]?.flushes ?? 0) }
}

/**
 * `producers` concurrent producers, each awaiting one single-job enqueue at a time on a pool of its
 * own (one connection per producer), until `count` jobs are in: jobs/s, commits/s, WAL flushes per
 * commit, and what the producers' backends wait on (pg_stat_activity sampled every 10 ms on
 * `harness`; its own read-only commits, about 100/s, are in the commit count). The pool is
 * opened and every connection used once before the clock starts.
 */
export async function measureProducers(
  system: BenchSystem,
  variant: ProducerVariant,
  producers: number,
  count: number,
  harness: pg.Pool,
): Promise<ProducersResult> {
  if (!system.openProducers) throw new Error(`${system.name} has no producers`)
  await system.reset()
  const producer = await system.openProducers(producers, variant)
  let closed = false
  try {
    // warm-up: every connection opened (and its statement prepared) before the clock starts
    await Promise.all(Array.from({ length: producers * 2 }, (_, k) => producer.enqueue({ i: -1 - k })))
    const waits = new Map<string, number>()
    let samples = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await harness.query<{ w: string; n: number }>(
          `SELECT coalesce(wait_event_type || '/' || wait_event, 'CPU') AS w, count(*)::int AS n
           FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' GROUP BY 1`,
          [PRODUCERS_APP],
        )
        for (const r of rows) {
          waits.set(r.w, (waits.get(r.w) ?? 0) + r.n)
          samples += r.n
        }
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
    const c0 = await counters(harness)
    let next = 0
    const start = performance.now()
    await Promise.all(
      Array.from({ length: producers }, async () => {
        for (let i = next++; i < count; i = next++) await producer.enqueue({ i } satisfies BenchPayload)
      }),
    )
    const seconds = (performance.now() - start) / 1000
    sampling = false
    await sampler
    // backends publish their counters when they end: close the producers' pool first
    closed = true
    await producer.close()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const c1 = await counters(harness)
    const commitCount = c1.commits - c0.commits
    return {
      jobsPerSecond: count / seconds,
      commitsPerSecond: commitCount / seconds,
      flushesPerCommit: commitCount > 0 ? (c1.flushes - c0.flushes) / commitCount : Number.NaN,
      waits: [...waits].map(([w, n]) => [w, samples ? n / samples : 0] as const).sort((a, b) => b[1] - a[1]),
    }
  } finally {
    if (!closed) await producer.close()
  }
}

/** The note of one run: commits/s and the main waits, e.g. `1,890 commits/s; Lock/object 61 %, CPU 20 %`. */
export function producersNote(r: ProducersResult): string {
  const waits = r.waits
    .filter(([, share]) => share >= 0.03)
    .map(([w, share]) => `${w} ${Math.round(share * 100)} %`)
    .join(', ')
  return `${Math.round(r.commitsPerSecond).toLocaleString('en-US')} commits/s, ${r.flushesPerCommit.toFixed(2)} WAL flushes/commit; waits: ${waits || 'none sampled'}`
}
