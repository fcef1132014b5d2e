import { readdirSync, readFileSync } from 'node:fs'
import pg from 'pg'

/** What one drain cost, per job: round trips, commits, WAL and CPU on each side. */
export interface CostProfile {
  /** `pg` client queries sent by this process (every library here uses the same `pg`). */
  readonly roundTripsPerJob: number
  /** Committed transactions in the database (all sessions), per job. */
  readonly commitsPerJob: number
  /** WAL bytes written per job (PostgreSQL ≥ 14). */
  readonly walBytesPerJob: number
  /** CPU ms of this Node process per job. */
  readonly nodeCpuMsPerJob: number
  /** CPU ms of local `postgres` processes per job (null when the server is not on this machine). */
  readonly pgCpuMsPerJob: number | null
}

let queries = 0
let patched = false

/** `pg` queries this process sent since {@link countQueries} was first called. */
export function queriesSent(): number {
  return queries
}

/** Counts every `pg` query of this process from now on (idempotent). */
export function countQueries(): void {
  if (patched) return
  patched = true
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
  const original = proto.query
  proto.query = function (this: unknown, ...args: unknown[]) {
    queries++
    return original.apply(this, args)
  }
}

/**
 * CPU ms (user + system) of each local process named `postgres`, by pid; null when /proc is unreadable.
 * With `postmaster`, only that server: the postmaster itself and its children (backends, WAL
 * writer, checkpointer, autovacuum…), not other PostgreSQL servers running on the machine.
 */
export function postgresCpuMs(postmaster?: number): Map<string, number> | null {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return null
  }
  const byPid = new Map<string, number>()
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue
      const fields = stat.slice(close + 2).split(' ')
      if (postmaster !== undefined && Number(pid) !== postmaster && Number(fields[1]) !== postmaster) continue
      byPid.set(pid, (Number(fields[11]) + Number(fields[12])) * 10) // USER_HZ is 100 on Linux
    } catch {
      // the process ended while we looked
    }
  }
  return byPid.size > 0 ? byPid : null
}

/** CPU ms spent between two snapshots by the processes alive at the second (exited ones are lost). */
export function cpuDelta(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
): number | null {
  if (!before || !after) return null
  let total = 0
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0)
  return total
}

interface DbCounters {
  readonly commits: number
  readonly wal: number
}

async function dbCounters(pool: pg.Pool): Promise<DbCounters> {
  const { rows } = await pool.query<{ commits: string; wal: string | null }>(
    `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
            (SELECT wal_bytes FROM pg_stat_wal) AS wal`,
  )
  return { commits: Number(rows[0]?.commits ?? 0), wal: Number(rows[0]?.wal ?? 0) }
}

/** Ends a cost profile: `pause()` before the worker stops (CPU of live processes), `finish()` after it. */
export interface CostProfiler {
  /** Reads the counters that die with the worker's connections (client queries, CPU). */
  pause(): void
  /** After the worker stopped (its backends flushed their statistics): the cost per job. */
  finish(jobs: number): Promise<CostProfile>
}

/** Starts measuring the cost of a drain on `pool`'s database. */
export async function startCostProfile(pool: pg.Pool): Promise<CostProfiler> {
  countQueries()
  await pool.query('SELECT pg_stat_clear_snapshot()')
  const before = await dbCounters(pool)
  const q0 = queries
  const cpu0 = process.cpuUsage()
  const pg0 = postgresCpuMs()
  let paused: { q: number; cpu: NodeJS.CpuUsage; pg: Map<string, number> | null } | undefined
  return {
    pause() {
      paused = { q: queries, cpu: process.cpuUsage(cpu0), pg: postgresCpuMs() }
    },
    async finish(jobs) {
      const end = paused ?? { q: queries, cpu: process.cpuUsage(cpu0), pg: postgresCpuMs() }
      // Backends publish their counters when they end (the worker closed them) or go idle.
      await new Promise((resolve) => setTimeout(resolve, 300))
      await pool.query('SELECT pg_stat_clear_snapshot()')
      const after = await dbCounters(pool)
      const n = Math.max(jobs, 1)
      const pgCpu = cpuDelta(pg0, end.pg)
      return {
        roundTripsPerJob: (end.q - q0) / n,
        commitsPerJob: (after.commits - before.commits) / n,
        walBytesPerJob: (after.wal - before.wal) / n,
        nodeCpuMsPerJob: (end.cpu.user + end.cpu.system) / 1000 / n,
        pgCpuMsPerJob: pgCpu === null ? null : pgCpu / n,
      }
    },
  }
}
