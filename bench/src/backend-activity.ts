// What hosts.ts reads about a run besides CPU per process: the whole machine's busy time and what
// the worker processes' backends were doing (pg_stat_activity, sampled).
import { readFileSync } from 'node:fs'
import type pg from 'pg'

/** CPU ms the whole machine spent busy (all CPUs, everything but idle and iowait), from /proc/stat. */
export function machineBusyMs(): number | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0) // user … steal; guest is inside user
    return (total - cpu[3]! - cpu[4]!) * 10 // USER_HZ is 100 on Linux
  } catch {
    return null
  }
}

/** What the worker processes' backends were doing, sampled every 20 ms over a drain. */
export interface Activity {
  /** Average number of worker backends in a statement (state `active`). */
  readonly active: number
  /** Share of those active samples per wait event (`CPU` when none), largest first. */
  readonly waits: [string, number][]
}

/**
 * Samples pg_stat_activity for the backends of `applicationName` until `stop()` is called (one
 * query at a time).
 */
export function sampleActivity(pool: pg.Pool, applicationName: string): { stop(): Promise<Activity> } {
  const counts = new Map<string, number>()
  let samples = 0
  let active = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const { rows } = await pool.query<{ wait: string | null }>(
        `SELECT wait_event_type || ':' || wait_event AS wait FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND state = 'active' AND application_name = $1`,
        [applicationName],
      )
      samples++
      for (const { wait } of rows) {
        active++
        counts.set(wait ?? 'CPU', (counts.get(wait ?? 'CPU') ?? 0) + 1)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      const waits = [...counts].map(([k, n]): [string, number] => [k, n / Math.max(active, 1)])
      return { active: active / Math.max(samples, 1), waits: waits.sort((a, b) => b[1] - a[1]) }
    },
  }
}
