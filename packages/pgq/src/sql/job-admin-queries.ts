// Administering jobs by id or filter: get, list, cancel, retry, delete. Every value is a bound
// parameter; identifiers come from schemaNames(). The statements are built with Kysely
// (sql/query-builder.ts): only a filter's given conditions become SQL. This module is imported
// lazily (admin/jobs.ts), so a worker or a client that never lists or administers jobs does not
// load Kysely (about 12 MB of memory per process).

import { type RawBuilder, sql } from 'kysely'
import type { ResolvedFilter } from '../admin/job-filter.js'
import type { JobRow, JobSummaryRow } from '../admin/job-record.js'
import type { Executor } from '../db/executor.js'
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
