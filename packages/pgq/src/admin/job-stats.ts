import type { QueueStatsRow } from '../sql/admin-queries.js'

/**
 * Jobs finished in the stats window, by final state.
 *
 * ```ts
 * const { failed }: FinishedCounts = (await pgq.jobs.stats()).totals.recent
 * ```
 */
export interface FinishedCounts {
  readonly succeeded: number
  readonly failed: number
  readonly cancelled: number
  /** Waiting jobs that reached their deadline (`expires_at`) before they started. */
  readonly expired: number
}

/**
 * One queue in {@link JobStats}.
 *
 * ```ts
 * const emails = (await pgq.jobs.stats()).queues.find((q) => q.queue === 'emails')
 * if (emails && emails.lagMs > 60_000) alert('emails are a minute behind')
 * ```
 */
export interface QueueStats {
  readonly queue: string
  /** Available and due now: waiting for a worker. */
  readonly waiting: number
  /** Available but due later (delayed jobs and retries in backoff). */
  readonly scheduled: number
  /** Workflow nodes waiting on their parents (never claimed until they are done). */
  readonly blocked: number
  readonly running: number
  readonly succeeded: number
  readonly failed: number
  readonly cancelled: number
  /** Jobs whose deadline passed before they started. */
  readonly expired: number
  /** Since when the oldest due job has waited (null when none waits). */
  readonly oldestWaitingSince: Date | null
  /** How long the oldest due job has waited, in ms (0 when none waits): the queue's lag. */
  readonly lagMs: number
  /** Jobs that finished within the window. */
  readonly recent: FinishedCounts
  /** Jobs finished per minute over the window (all final states). */
  readonly throughputPerMinute: number
}

/**
 * What `pgq.jobs.stats()` and `pgq stats` report: per-queue counts, lag and recent throughput,
 * with totals over all queues (lag: the largest).
 *
 * ```ts
 * const stats = await pgq.jobs.stats({ windowMinutes: 15 })
 * console.log(stats.totals.waiting, stats.totals.lagMs)
 * ```
 */
export interface JobStats {
  /** The database time of the reading. */
  readonly at: Date
  readonly windowMinutes: number
  readonly queues: readonly QueueStats[]
  readonly totals: Omit<QueueStats, 'queue' | 'oldestWaitingSince'>
}

/** @internal */
export function toJobStats(rows: readonly QueueStatsRow[], windowMinutes: number, at: Date): JobStats {
  const queues = rows.map((row): QueueStats => {
    const recent = {
      succeeded: row.succeeded_recent,
      failed: row.failed_recent,
      cancelled: row.cancelled_recent,
      expired: row.expired_recent,
    }
    return Object.freeze({
      queue: row.queue,
      waiting: row.waiting,
      scheduled: row.scheduled,
      blocked: row.blocked,
      running: row.running,
      succeeded: row.succeeded,
      failed: row.failed,
      cancelled: row.cancelled,
      expired: row.expired,
      oldestWaitingSince: row.oldest_waiting_since,
      lagMs: row.lag_ms,
      recent: Object.freeze(recent),
      throughputPerMinute: perMinute(recent, windowMinutes),
    })
  })
  const sum = (pick: (q: QueueStats) => number) => queues.reduce((n, q) => n + pick(q), 0)
  const recent = {
    succeeded: sum((q) => q.recent.succeeded),
    failed: sum((q) => q.recent.failed),
    cancelled: sum((q) => q.recent.cancelled),
    expired: sum((q) => q.recent.expired),
  }
  const totals = Object.freeze({
    waiting: sum((q) => q.waiting),
    scheduled: sum((q) => q.scheduled),
    blocked: sum((q) => q.blocked),
    running: sum((q) => q.running),
    succeeded: sum((q) => q.succeeded),
    failed: sum((q) => q.failed),
    cancelled: sum((q) => q.cancelled),
    expired: sum((q) => q.expired),
    lagMs: Math.max(0, ...queues.map((q) => q.lagMs)),
    recent: Object.freeze(recent),
    throughputPerMinute: perMinute(recent, windowMinutes),
  })
  return Object.freeze({ at, windowMinutes, queues: Object.freeze(queues), totals })
}

function perMinute(recent: FinishedCounts, windowMinutes: number): number {
  const total = recent.succeeded + recent.failed + recent.cancelled + recent.expired
  return Math.round((total / windowMinutes) * 100) / 100
}
