// Reading and administering jobs with plain SQL: the ResultWaiter's reads, prune and stats. Every
// value is a bound parameter; identifiers come from schemaNames(). The statements that take a job
// filter (get, list, cancel, retry, delete) are in job-admin-queries.ts, built with Kysely, which
// is loaded only when one of them first runs.

import type { JobErrorEntry, JobState } from '../admin/job-record.js'
import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

/** @internal What the ResultWaiter needs to settle a waiter (result only on success, errors only on failure). */
export interface JobOutcomeRow {
  id: string
  task: string
  state: JobState
  result: unknown
  errors: JobErrorEntry[] | null
  progress: unknown
}

/** @internal The state (and result or errors once final) of several jobs; missing ids are absent. */
export async function getJobOutcomes(
  db: Executor,
  names: SchemaNames,
  ids: readonly string[],
): Promise<JobOutcomeRow[]> {
  const { rows } = await runQuery<JobOutcomeRow>(
    db,
    `SELECT j.id::text AS id, j.task, j.state, j.progress,
       CASE WHEN j.state = 'succeeded' THEN j.result END AS result,
       CASE WHEN j.state = 'failed' THEN j.errors END AS errors
     FROM ${names.jobs} AS j WHERE j.id = ANY($1::bigint[])`,
    [ids],
  )
  return rows
}

/**
 * @internal Deletes up to `limit` finished jobs whose `delete_after` has passed, oldest first. Rows
 * another pruner (or an admin) has locked are skipped, so several pruners never wait on each other.
 */
export async function pruneJobs(db: Executor, names: SchemaNames, limit: number): Promise<number> {
  const { rows } = await runQuery<{ deleted: number }>(
    db,
    `WITH due AS (
       SELECT j.id FROM ${names.jobs} AS j
       WHERE j.delete_after < now() AND j.state IN ('succeeded', 'failed', 'cancelled', 'expired')
       ORDER BY j.delete_after LIMIT $1
       FOR UPDATE SKIP LOCKED
     ),
     deleted AS (DELETE FROM ${names.jobs} AS j USING due WHERE j.id = due.id RETURNING 1)
     SELECT count(*)::int AS deleted FROM deleted`,
    [limit],
  )
  return rows[0]?.deleted ?? 0
}

/** @internal One queue's counts, lag and recent throughput, as `queueStats` returns it. */
export interface QueueStatsRow {
  queue: string
  waiting: number
  scheduled: number
  blocked: number
  running: number
  succeeded: number
  failed: number
  cancelled: number
  expired: number
  oldest_waiting_since: Date | null
  lag_ms: number
  succeeded_recent: number
  failed_recent: number
  cancelled_recent: number
  expired_recent: number
  at: Date
}

/**
 * @internal Per queue: jobs by state, the age of the oldest due waiting job, and jobs finished in the
 * last `windowMinutes` (from `finished_at`). Scans the table once; retention keeps it small.
 */
export async function queueStats(
  db: Executor,
  names: SchemaNames,
  windowMinutes: number,
): Promise<QueueStatsRow[]> {
  const { rows } = await runQuery<QueueStatsRow>(
    db,
    `WITH s AS (
       SELECT j.queue,
         count(*) FILTER (WHERE j.state = 'available' AND j.run_at <= now())::int AS waiting,
         count(*) FILTER (WHERE j.state = 'available' AND j.run_at > now())::int AS scheduled,
         count(*) FILTER (WHERE j.state = 'blocked')::int AS blocked,
         count(*) FILTER (WHERE j.state = 'running')::int AS running,
         count(*) FILTER (WHERE j.state = 'succeeded')::int AS succeeded,
         count(*) FILTER (WHERE j.state = 'failed')::int AS failed,
         count(*) FILTER (WHERE j.state = 'cancelled')::int AS cancelled,
         count(*) FILTER (WHERE j.state = 'expired')::int AS expired,
         min(j.run_at) FILTER (WHERE j.state = 'available' AND j.run_at <= now()) AS oldest_waiting_since,
         count(*) FILTER (WHERE j.state = 'succeeded' AND j.finished_at > now() - make_interval(mins => $1))::int
           AS succeeded_recent,
         count(*) FILTER (WHERE j.state = 'failed' AND j.finished_at > now() - make_interval(mins => $1))::int
           AS failed_recent,
         count(*) FILTER (WHERE j.state = 'cancelled' AND j.finished_at > now() - make_interval(mins => $1))::int
           AS cancelled_recent,
         count(*) FILTER (WHERE j.state = 'expired' AND j.finished_at > now() - make_interval(mins => $1))::int
           AS expired_recent
       FROM ${names.jobs} AS j GROUP BY j.queue
     )
     SELECT s.*, coalesce(floor(extract(epoch FROM now() - s.oldest_waiting_since) * 1000), 0)::float8 AS lag_ms,
       now() AS at
     FROM s ORDER BY s.queue`,
    [windowMinutes],
  )
  return rows
}
