// Every statement the dashboard runs that pgq's own API does not cover, as named functions. Values
// are bound parameters; identifiers come from the client's validated, quoted schema names. None of
// them needs an index beyond those of migrations/0001 (see each function for the one it uses).
import type { Pgq } from '@pgq/core'

/** The client's validated, quoted schema names. */
export type Names = Pgq['names']
/** Where the statements run: the client's pool. */
export type Db = Pgq['pool']

/** One queue's live counts, as the overview and the live feed show them. */
export interface QueueCountsRow {
  queue: string
  waiting: number
  scheduled: number
  running: number
  failed: number
  oldest_waiting_since: Date | null
  lag_ms: number
  /** Flow control (`<schema>.queues`): paused, and the global concurrency limit (null: none). */
  paused: boolean
  concurrency: number | null
  /** Rate limits as `<n> per <ms>` pairs, and the per-key limit (null: none). */
  rate_limit: number | null
  rate_interval_ms: number | null
  key_concurrency: number | null
  ordered: boolean
  key_rate_limit: number | null
  key_rate_interval_ms: number | null
}

/**
 * Per queue: waiting (due), scheduled (due later), running and failed jobs, and the age of the oldest
 * due job. Each count reads one partial index (claim, lease, failed), never the finished history;
 * queues known only from the task registry, schedules or live workers are listed with zeros.
 */
export async function queueCounts(db: Db, names: Names): Promise<QueueCountsRow[]> {
  const { rows } = await db.query<QueueCountsRow>(
    `WITH a AS (
       SELECT j.queue,
         count(*) FILTER (WHERE j.run_at <= now())::int AS waiting,
         count(*) FILTER (WHERE j.run_at > now())::int AS scheduled,
         min(j.run_at) FILTER (WHERE j.run_at <= now()) AS oldest_waiting_since
       FROM ${names.jobs} AS j WHERE j.state = 'available' GROUP BY j.queue
     ),
     r AS (SELECT j.queue, count(*)::int AS running FROM ${names.jobs} AS j WHERE j.state = 'running' GROUP BY j.queue),
     f AS (SELECT j.queue, count(*)::int AS failed FROM ${names.jobs} AS j WHERE j.state = 'failed' GROUP BY j.queue),
     known AS (
       SELECT queue FROM a UNION SELECT queue FROM r UNION SELECT queue FROM f
       UNION SELECT t.queue FROM ${names.quoted}.tasks AS t
       UNION SELECT s.queue FROM ${names.schedules} AS s WHERE s.queue IS NOT NULL
       UNION SELECT unnest(w.queues) FROM ${names.workerStatus} AS w WHERE w.status = 'alive'
       UNION SELECT q.name FROM ${names.quoted}.queues AS q
     )
     SELECT k.queue, coalesce(a.waiting, 0) AS waiting, coalesce(a.scheduled, 0) AS scheduled,
       coalesce(r.running, 0) AS running, coalesce(f.failed, 0) AS failed, a.oldest_waiting_since,
       coalesce(floor(extract(epoch FROM now() - a.oldest_waiting_since) * 1000), 0)::float8 AS lag_ms,
       coalesce(q.paused, false) AS paused, q.concurrency, q.rate_limit, q.rate_interval_ms,
       q.key_concurrency, coalesce(q.ordered, false) AS ordered, q.key_rate_limit, q.key_rate_interval_ms
     FROM known AS k
     LEFT JOIN a ON a.queue = k.queue LEFT JOIN r ON r.queue = k.queue LEFT JOIN f ON f.queue = k.queue
     LEFT JOIN ${names.quoted}.queues AS q ON q.name = k.queue
     ORDER BY k.queue`,
  )
  return rows
}

/** Jobs finished in one minute, by outcome. */
export interface MinuteRow {
  minute: Date
  succeeded: number
  failed: number
  cancelled: number
  /** Waiting jobs ended by their deadline (`expires_at`) before they started. */
  expired: number
}

/**
 * Jobs finished per minute over the last `minutes` minutes (the current one included), oldest
 * first, one row per minute (zeros included). `finished_at` has no index of its own (one would slow
 * every finalize), so this scans the table: the dashboard caches it for a few seconds.
 */
export async function finishedPerMinute(db: Db, names: Names, minutes: number): Promise<MinuteRow[]> {
  const { rows } = await db.query<MinuteRow>(
    `WITH m AS (
       SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1),
                              date_trunc('minute', now()), interval '1 minute') AS minute
     ),
     c AS (
       SELECT date_trunc('minute', j.finished_at) AS minute,
         count(*) FILTER (WHERE j.state = 'succeeded')::int AS succeeded,
         count(*) FILTER (WHERE j.state = 'failed')::int AS failed,
         count(*) FILTER (WHERE j.state = 'cancelled')::int AS cancelled,
         count(*) FILTER (WHERE j.state = 'expired')::int AS expired
       FROM ${names.jobs} AS j
       WHERE j.finished_at >= date_trunc('minute', now()) - make_interval(mins => $1 - 1)
       GROUP BY 1
     )
     SELECT m.minute, coalesce(c.succeeded, 0) AS succeeded, coalesce(c.failed, 0) AS failed,
       coalesce(c.cancelled, 0) AS cancelled, coalesce(c.expired, 0) AS expired
     FROM m LEFT JOIN c ON c.minute = m.minute ORDER BY m.minute`,
    [minutes],
  )
  return rows
}

/** What the live feed sends about one job. */
export interface JobLiveRow {
  id: string
  task: string
  queue: string
  state: string
  attempts: number
  progress: unknown
  last_error: string | null
}

/** State, progress and last error of the given jobs (primary key lookups). */
export async function jobsLive(db: Db, names: Names, ids: readonly string[]): Promise<JobLiveRow[]> {
  if (ids.length === 0) return []
  const { rows } = await db.query<JobLiveRow>(
    `SELECT j.id::text AS id, j.task, j.queue, j.state, j.attempts, j.progress,
       j.errors -> -1 ->> 'message' AS last_error
     FROM ${names.jobs} AS j WHERE j.id = ANY($1::bigint[]) ORDER BY j.id`,
    [ids],
  )
  return rows
}

/** The database's clock. */
export async function databaseNow(db: Db): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now')
  return rows[0]!.now
}
