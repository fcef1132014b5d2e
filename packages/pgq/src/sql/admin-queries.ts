// Reading and administering jobs: get, list, cancel, retry, delete, prune, stats, and the reads of
// the ResultWaiter. Every value is a bound parameter; identifiers come from schemaNames(). The
// statements that take a job filter are built with Kysely (sql/query-builder.ts): only the filter's
// given conditions become SQL.

import { type RawBuilder, sql } from 'kysely'
import type { ResolvedFilter } from '../admin/job-filter.js'
import type { JobErrorEntry, JobRow, JobState, JobSummaryRow } from '../admin/job-record.js'
import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { builder, jobFilterCondition, runCompiled } from './query-builder.js'
import {
  WORKFLOW_FAN_IN_REF,
  WORKFLOW_RESUME_REF,
  workflowFanIn,
  workflowRetryable,
  workflowRetryResume,
} from './workflow-queries.js'

/** The columns of a {@link JobSummaryRow}, on the jobs table aliased `j`. */
const SUMMARY_COLUMNS = [
  sql<string>`j.id::text`.as('id'),
  'j.task',
  'j.queue',
  'j.state',
  'j.priority',
  'j.attempts',
  'j.max_attempts',
  'j.interruptions',
  'j.dedup_key',
  'j.run_at',
  'j.created_at',
  'j.started_at',
  'j.finished_at',
  'j.delete_after',
  'j.cancel_requested_at',
  sql<string | null>`j.locked_by::text`.as('locked_by'),
  'j.lease_expires_at',
  'j.progress',
  sql<string | null>`j.errors -> -1 ->> 'message'`.as('last_error'),
  'j.schedule_name',
] as const

/** @internal One job with payload, result and error history, or undefined. */
export async function getJob(db: Executor, names: SchemaNames, id: string): Promise<JobRow | undefined> {
  const query = builder
    .withSchema(names.schema)
    .selectFrom('jobs as j')
    .select(SUMMARY_COLUMNS)
    .select([
      'j.payload',
      'j.result',
      'j.errors',
      'j.max_interruptions',
      'j.scheduled_for',
      'j.meta',
      'j.steps',
      'j.workflow_id',
      sql<string | null>`j.last_worker::text`.as('last_worker'),
    ])
    .where('j.id', '=', id)
  const { rows } = await runCompiled<JobRow>(db, query.compile())
  return rows[0]
}

/** @internal Jobs matching a filter, newest first, `limit` at a time; never selects payload or result. */
export async function listJobs(
  db: Executor,
  names: SchemaNames,
  filter: ResolvedFilter,
  limit: number,
  beforeId: string | null,
): Promise<JobSummaryRow[]> {
  const query = builder
    .withSchema(names.schema)
    .selectFrom('jobs as j')
    .select(SUMMARY_COLUMNS)
    .where(jobFilterCondition(filter))
    .$if(beforeId !== null, (q) => q.where('j.id', '<', beforeId!))
    .orderBy('j.id', 'desc')
    .limit(limit)
  const { rows } = await runCompiled<JobSummaryRow>(db, query.compile())
  return rows
}

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

/** @internal The outcome of one batch of an admin operation; `lastId` is the cursor for the next batch. */
export interface BatchResult {
  readonly counts: Readonly<Record<string, number>>
  readonly lastId: string | null
}

/**
 * The `target` CTE of one batch: the next `limit` jobs by id (after the cursor `afterId`, when
 * given: the batches of one operation walk the ids up) that match the filter and `condition`,
 * locked — waiting for locks, or skipping locked rows with `skipLocked`.
 */
function batchTarget(
  jobs: RawBuilder<unknown>,
  filter: ResolvedFilter,
  condition: RawBuilder<unknown>,
  afterId: string | null,
  limit: number,
  skipLocked: boolean,
): RawBuilder<unknown> {
  return sql`target AS (
       SELECT j.id FROM ${jobs} AS j
       WHERE ${jobFilterCondition(filter)} AND ${condition}
         ${afterId === null ? sql`` : sql`AND j.id > ${afterId}::bigint`}
       ORDER BY j.id LIMIT ${limit}
       FOR UPDATE OF j ${skipLocked ? sql`SKIP LOCKED` : sql``}
     )`
}

/** The next batch's cursor: the last id of `target`. */
const LAST_ID = sql`(SELECT max(t.id)::text FROM target AS t) AS last_id`

async function batch(db: Executor, statement: RawBuilder<unknown>): Promise<BatchResult> {
  const { rows } = await runCompiled<{ outcome: string | null; jobs: number; last_id: string | null }>(
    db,
    statement.compile(builder),
  )
  const counts: Record<string, number> = {}
  for (const row of rows) if (row.outcome !== null) counts[row.outcome] = row.jobs
  return { counts, lastId: rows[0]?.last_id ?? null }
}

/**
 * @internal Cancels up to `limit` matching jobs with id > `afterId`: a waiting job is finalized as
 * cancelled (announced `finished:<id>`); a running one gets `cancel_requested_at` (announced
 * `cancel:<id>`) and its worker aborts it. One UPDATE decides per row on its latest version, so a
 * job claimed while we waited for its lock is asked to stop instead of being marked cancelled.
 */
export async function cancelJobs(
  db: Executor,
  names: SchemaNames,
  filter: ResolvedFilter,
  afterId: string | null,
  limit: number,
  retentionMs: number,
): Promise<BatchResult> {
  const jobs = sql.raw(names.jobs)
  return batch(
    db,
    sql`WITH ${batchTarget(jobs, filter, sql`j.state IN ('blocked', 'available', 'running')`, afterId, limit, false)},
     updated AS (
       UPDATE ${jobs} AS j SET
         state = CASE WHEN j.state = 'running' THEN j.state ELSE 'cancelled' END,
         finished_at = CASE WHEN j.state = 'running' THEN j.finished_at ELSE now() END,
         delete_after = CASE WHEN j.state <> 'running'
           THEN now() + make_interval(secs => ${retentionMs}::double precision / 1000) ELSE j.delete_after END,
         cancel_requested_at = coalesce(j.cancel_requested_at, now())
       FROM target AS t
       WHERE j.id = t.id AND j.state IN ('blocked', 'available', 'running')
       RETURNING j.id, j.state, j.workflow_id
     ),
     ${sql.raw(workflowFanIn(names, 'updated', "f.state = 'cancelled'"))},
     notified AS (
       SELECT u.state, count(pg_notify(${names.eventsChannel},
         CASE WHEN u.state = 'cancelled' THEN 'finished:' ELSE 'cancel:' END || u.id::text)) AS sent
       FROM updated AS u GROUP BY u.state
     )
     SELECT CASE n.state WHEN 'cancelled' THEN 'cancelled' WHEN 'running' THEN 'cancelRequested' END AS outcome,
       n.sent::int AS jobs, ${LAST_ID}
     FROM (SELECT 1) AS one CROSS JOIN ${sql.raw(WORKFLOW_FAN_IN_REF)} LEFT JOIN notified AS n ON true`,
  )
}

/**
 * @internal Puts up to `limit` failed, cancelled or expired jobs (id > `afterId`) back to `available`,
 * due now, with their attempt counters reset, their deadline (`expires_at`) cleared — an expired job
 * would otherwise expire again at once — and their error history kept; wakes their queues. A job
 * whose dedup key has a live job (or a newer finished one) is skipped, so the unique key always holds.
 *
 * Workflow nodes resume their graph: a retried node's failure is taken back from its dependants'
 * counters in this statement ({@link workflowRetryResume}), and the `workflow_nodes_revive` trigger
 * (migration 0013) puts the dependants its failure cancelled back to `blocked`. A node still waiting
 * on parents goes back to `blocked`, not `available`. Skipped: nodes of a cancelled workflow, and
 * nodes that a failed parent keeps from running (they come back when that parent is retried).
 */
export async function retryJobs(
  db: Executor,
  names: SchemaNames,
  filter: ResolvedFilter,
  afterId: string | null,
  limit: number,
  queue: string | null,
): Promise<BatchResult> {
  const jobs = sql.raw(names.jobs)
  const nodes = sql.raw(`${names.quoted}.workflow_nodes`)
  const retryable = sql`j.state IN ('failed', 'cancelled', 'expired')
         AND (j.dedup_key IS NULL OR (
           NOT EXISTS (SELECT 1 FROM ${jobs} AS l WHERE l.task = j.task AND l.dedup_key = j.dedup_key
                       AND l.state IN ('available', 'running'))
           AND j.id = (SELECT max(k.id) FROM ${jobs} AS k WHERE k.task = j.task
                       AND k.dedup_key = j.dedup_key AND k.state IN ('failed', 'cancelled', 'expired'))))
         AND ${sql.raw(workflowRetryable(names, 'j'))}`
  return batch(
    db,
    sql`WITH ${batchTarget(jobs, filter, retryable, afterId, limit, true)},
     updated AS (
       UPDATE ${jobs} AS j SET
         state = CASE WHEN EXISTS (SELECT 1 FROM ${nodes} AS n WHERE n.job_id = j.id AND n.pending > 0)
           THEN 'blocked' ELSE 'available' END,
         run_at = now(), queue = coalesce(${queue}::text, j.queue),
         attempts = 0, interruptions = 0, finished_at = NULL, delete_after = NULL,
         result = NULL, progress = NULL, cancel_requested_at = NULL, expires_at = NULL
       FROM target AS t
       WHERE j.id = t.id AND j.state IN ('failed', 'cancelled', 'expired')
       RETURNING j.id, j.queue, j.state, j.workflow_id
     ),
     ${sql.raw(workflowRetryResume(names, 'updated'))},
     woken AS (
       SELECT count(pg_notify(${names.jobsChannel}, q.queue)) AS sent
       FROM (SELECT DISTINCT u.queue FROM updated AS u WHERE u.state = 'available') AS q
     )
     SELECT 'retried' AS outcome, (SELECT count(*) FROM updated)::int AS jobs, ${LAST_ID}
     FROM woken CROSS JOIN ${sql.raw(WORKFLOW_RESUME_REF)}`,
  )
}

/** @internal Deletes up to `limit` matching jobs (id > `afterId`) that are not running. */
export async function deleteJobs(
  db: Executor,
  names: SchemaNames,
  filter: ResolvedFilter,
  afterId: string | null,
  limit: number,
): Promise<BatchResult> {
  const jobs = sql.raw(names.jobs)
  return batch(
    db,
    sql`WITH ${batchTarget(jobs, filter, sql`j.state <> 'running'`, afterId, limit, true)},
     deleted AS (
       DELETE FROM ${jobs} AS j USING target AS t
       WHERE j.id = t.id AND j.state <> 'running' RETURNING j.id
     )
     SELECT 'deleted' AS outcome, (SELECT count(*) FROM deleted)::int AS jobs, ${LAST_ID}`,
  )
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
