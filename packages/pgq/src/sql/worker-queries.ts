import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { asyncCommit, lockedInIdOrder, statementName } from './statement-parts.js'
import { WORKFLOW_FAN_IN_REF, workflowFanIn } from './workflow-queries.js'

/** @internal A job as the claim statement returns it (snake_case; mapped to {@link ClaimedJob}). */
export interface ClaimedJobRow {
  id: string
  task: string
  queue: string
  payload: unknown
  attempts: number
  max_attempts: number
  lease_token: string
  trace: unknown
  wait_ms: number
  steps: Record<string, unknown> | null
}

/**
 * @internal A job this worker claimed: which run of which job, and the lease token that fences
 * every write about it.
 */
export interface ClaimedJob {
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly payload: unknown
  /** 1-based attempt number of this run. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly leaseToken: string
  /** `meta.trace`: the W3C trace context stored at enqueue (docs/observability.md), or null. */
  readonly trace?: unknown
  /** How long the job waited between becoming due (`run_at`) and this claim, in ms. */
  readonly waitMs: number
  /** `steps`: the durable steps earlier runs completed (`ctx.step`, `ctx.sleep`), or null for none. */
  readonly steps?: Readonly<Record<string, unknown>> | null
}

/**
 * @internal Claims up to `limit` due jobs of one queue, highest priority first, then oldest run_at.
 * The CTE is materialized so the row locks (SKIP LOCKED) are taken once, on exactly the rows the
 * UPDATE changes. Only the tasks this worker can run are claimed. It claims nothing from a queue
 * whose `queues` row limits something (paused, a global limit): those go through
 * {@link claimLimitedJobs}, so a worker that has not yet heard of a new limit cannot break it.
 */
export async function claimJobs(
  db: Executor,
  names: SchemaNames,
  params: {
    queue: string
    limit: number
    workerId: string
    leaseMs: number
    tasks: string[]
    /** Commit with the server's `synchronous_commit` instead of `off` (the worker's option). */
    synchronousCommit?: boolean
  },
  prepared = false,
): Promise<ClaimedJob[]> {
  const result = await runQuery<ClaimedJobRow>(
    db,
    `WITH ${asyncCommit('$6')},
     picked AS MATERIALIZED (
       SELECT id FROM ${names.jobs}
       WHERE state = 'available' AND queue = $1 AND run_at <= now() AND task = ANY($5::text[])
         AND (expires_at IS NULL OR expires_at > now())
         AND NOT EXISTS (SELECT FROM ${names.queues} AS q WHERE q.name = $1 AND q.limited)
       ORDER BY priority DESC, run_at, id
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     )
     UPDATE ${names.jobs} AS j
     SET state = 'running',
         attempts = j.attempts + 1,
         locked_by = $3,
         lease_token = gen_random_uuid(),
         lease_expires_at = now() + $4 * interval '1 millisecond',
         started_at = now()
     FROM picked, async_commit
     WHERE j.id = picked.id
     RETURNING j.id::text AS id, j.task, j.queue, j.payload, j.attempts, j.max_attempts, j.lease_token::text AS lease_token,
               j.meta->'trace' AS trace, greatest(extract(epoch FROM now() - j.run_at) * 1000, 0)::float8 AS wait_ms,
               j.steps`,
    [
      params.queue,
      params.limit,
      params.workerId,
      params.leaseMs,
      params.tasks,
      params.synchronousCommit ?? false,
    ],
    statementName(prepared, 'claim', names),
  )
  return result.rows.map(toClaimedJob)
}

/** @internal Maps a row of a claim statement (the plain or the limited claim). */
export function toClaimedJob(row: ClaimedJobRow): ClaimedJob {
  const { id, task, queue, payload, attempts, max_attempts, lease_token, trace, wait_ms, steps } = row
  return {
    id,
    task,
    queue,
    payload,
    attempt: attempts,
    maxAttempts: max_attempts,
    leaseToken: lease_token,
    trace,
    waitMs: wait_ms,
    steps,
  }
}

/** A retry or snooze requested while a cancel is pending ends the job as cancelled instead. */
const EFFECTIVE_STATE = `(CASE WHEN u.state = 'available' AND j.cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE u.state END)`

/**
 * A final outcome with a retention of 0 (`deleteOnSuccess`, or `retention: { failed: 0 }` and the
 * like) deletes the row in the outcome statement instead of updating it for the pruner to delete
 * later: one write of the row instead of two. Workflow nodes are kept (their results feed the
 * fan-in and their dependants' inputs) and go by the pruner as before. A retry or snooze
 * (`available`) is never final, whatever its retention.
 */
const DELETED_NOW = `(u.state <> 'available' AND u.retention_ms = 0 AND j.workflow_id IS NULL) IS TRUE`

/** @internal How a run ended, as the completer writes it (one row of the finalize statement). */
export interface FinalizeItem {
  id: string
  leaseToken: string
  /** `available` = retry or snooze; the others are final. */
  state: 'succeeded' | 'failed' | 'cancelled' | 'available'
  result: string | null
  /** JSON text of `{attempt, at, name, message, stack}`, appended to `errors`; null when none. */
  error: string | null
  /** Delay before the next run (retry or snooze). */
  delayMs: number
  /** True for a snooze: the attempt is not charged. */
  refundAttempt: boolean
  /** Retention of the finished row; null keeps it forever. */
  retentionMs: number | null
  /** Move the job to this queue (a failed job's dead-letter queue); null keeps its queue. */
  queue: string | null
}

/**
 * @internal Writes a batch of outcomes in one statement. A retry requested while a cancel was
 * pending becomes `cancelled`. Final states announce `finished:<id,id,…>` on the events channel.
 * Returns the state each written job ended in (a retry requested while a cancel was pending ends
 * `cancelled`); ids missing from it had lost their lease.
 */
export async function finalizeJobs(
  db: Executor,
  names: SchemaNames,
  items: readonly FinalizeItem[],
  maxErrorsKept: number,
  prepared = false,
  synchronousCommit = false,
): Promise<Map<string, FinalizeItem['state']>> {
  // inside a handler's transaction (ctx.transaction) the app's own writes commit with it: the caller
  // passes synchronousCommit = true to keep their durability
  const result = await runQuery<{ id: string; state: FinalizeItem['state'] }>(
    db,
    `WITH ${asyncCommit('$13')},
     u AS (
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[], $6::float8[], $7::bool[], $8::float8[], $12::text[])
         AS u(id, token, state, result, error, delay_ms, refund, retention_ms, queue)
     ),
     locked AS MATERIALIZED (${lockedInIdOrder(names, 'SELECT * FROM u')}),
     done AS (
       UPDATE ${names.jobs} AS j
       SET state = ${EFFECTIVE_STATE},
           queue = coalesce(u.queue, j.queue),
           result = u.result,
           errors = CASE WHEN u.error IS NULL THEN j.errors
                         ELSE (SELECT coalesce(jsonb_agg(e.value ORDER BY e.n), '[]'::jsonb)
                               FROM jsonb_array_elements(j.errors || jsonb_build_array(u.error || jsonb_build_object(
                                      'at', now(), 'startedAt', j.started_at, 'worker', j.locked_by)))
                                    WITH ORDINALITY AS e(value, n)
                               WHERE e.n > jsonb_array_length(j.errors) + 1 - $9) END,
           attempts = CASE WHEN u.refund THEN j.attempts - 1 ELSE j.attempts END,
           run_at = CASE WHEN ${EFFECTIVE_STATE} = 'available' THEN now() + u.delay_ms * interval '1 millisecond' ELSE j.run_at END,
           finished_at = CASE WHEN ${EFFECTIVE_STATE} = 'available' THEN NULL ELSE now() END,
           delete_after = CASE WHEN ${EFFECTIVE_STATE} = 'available' OR u.retention_ms IS NULL THEN NULL
                               ELSE now() + u.retention_ms * interval '1 millisecond' END,
           last_worker = j.locked_by,
           locked_by = NULL, lease_token = NULL, lease_expires_at = NULL
       FROM locked AS u
       WHERE j.id = u.id AND j.lease_token = u.token -- the fence; it implies state = 'running'
         AND NOT (${DELETED_NOW})
       RETURNING j.id, j.state, j.state <> 'available' AS final, j.queue, j.run_at, j.workflow_id
     ),
     gone AS (
       DELETE FROM ${names.jobs} AS j
       USING locked AS u
       WHERE j.id = u.id AND j.lease_token = u.token AND ${DELETED_NOW}
       RETURNING j.id, u.state
     ),
     written AS (SELECT id, state, final FROM done UNION ALL SELECT id, state, true FROM gone),
     ${workflowFanIn(names, 'done', 'f.final')},
     notified AS (
       SELECT count(pg_notify($10, 'finished:' || ids)) AS n
       FROM (SELECT string_agg(id::text, ',') AS ids FROM written WHERE final
             GROUP BY id / 500) AS chunks
     ),
     woken AS (
       SELECT count(pg_notify($11, w.queue || CASE WHEN w.first_run_at > now()
                THEN '@' || floor(extract(epoch FROM w.first_run_at) * 1000)::bigint::text ELSE '' END)) AS n
       FROM (SELECT d.queue, min(d.run_at) AS first_run_at FROM done d WHERE NOT d.final GROUP BY d.queue) w
     )
     SELECT d.id::text AS id, d.state
     FROM written d, notified, (SELECT count(*) FROM woken) AS w, ${WORKFLOW_FAN_IN_REF}, async_commit`,
    [
      items.map((i) => i.id),
      items.map((i) => i.leaseToken),
      items.map((i) => i.state),
      items.map((i) => i.result),
      items.map((i) => i.error),
      items.map((i) => i.delayMs),
      items.map((i) => i.refundAttempt),
      items.map((i) => i.retentionMs),
      maxErrorsKept,
      names.eventsChannel,
      names.jobsChannel,
      items.map((i) => i.queue),
      synchronousCommit,
    ],
    statementName(prepared, 'finalize', names),
  )
  return new Map(result.rows.map((r) => [r.id, r.state]))
}

/** @internal Writes a running job's progress (fenced) and announces `progress:<id>`. */
export async function setProgress(
  db: Executor,
  names: SchemaNames,
  params: { id: string; leaseToken: string; progress: string },
): Promise<boolean> {
  const result = await runQuery(
    db,
    `WITH p AS (
       UPDATE ${names.jobs} SET progress = $3::jsonb || jsonb_build_object('at', now())
       WHERE id = $1 AND lease_token = $2 AND state = 'running'
       RETURNING id
     )
     SELECT pg_notify($4, 'progress:' || p.id) FROM p`,
    [params.id, params.leaseToken, params.progress, names.eventsChannel],
  )
  return result.rowCount > 0
}
