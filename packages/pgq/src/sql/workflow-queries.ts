import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

/**
 * @internal The fan-in, as CTEs to append to a statement that writes jobs' outcomes. `finished`
 * names an earlier CTE with columns `id`, `state` (final ones only count) and `workflow_id`. For
 * every dependant of a workflow node that just finished, the parents are counted down on its
 * `workflow_nodes` row, locked in job id order; the `workflow_nodes_settle` trigger (migration
 * 0009) fires at the end of this same statement and makes the dependant available (with its
 * parents' results) exactly once, or cancels it. Plain jobs have no `workflow_id`: the join finds
 * nothing and the CTEs do no work. The statement must select from `wf_fan_in` (see
 * {@link WORKFLOW_FAN_IN_REF}) so the lock CTE runs.
 */
export function workflowFanIn(names: SchemaNames, finished: string, finalCondition: string): string {
  const deps = `${names.quoted}.job_dependencies`
  const nodes = `${names.quoted}.workflow_nodes`
  return `wf_edges AS (
       SELECT d.job_id, count(*)::int AS n, count(*) FILTER (WHERE f.state <> 'succeeded')::int AS failed
       FROM ${finished} f JOIN ${deps} d ON d.parent_id = f.id
       WHERE f.workflow_id IS NOT NULL AND ${finalCondition}
       GROUP BY d.job_id
     ),
     wf_locked AS MATERIALIZED (
       SELECT n.job_id FROM ${nodes} n WHERE n.job_id IN (SELECT e.job_id FROM wf_edges e) ORDER BY n.job_id FOR UPDATE
     ),
     wf_fan_in AS (
       UPDATE ${nodes} AS n SET pending = n.pending - e.n, failed = n.failed + e.failed
       FROM wf_edges e, wf_locked l
       WHERE n.job_id = e.job_id AND l.job_id = e.job_id
       RETURNING n.job_id
     )`
}

/** @internal A FROM item that makes a statement depend on {@link workflowFanIn}'s CTEs. */
export const WORKFLOW_FAN_IN_REF = '(SELECT count(*) FROM wf_fan_in) AS wf'

/**
 * @internal A condition on the jobs row aliased `alias`: true for a plain job, and for a workflow
 * node that a retry may run again. False for a node of a cancelled workflow, and for a node that a
 * failed parent keeps from running (its input would be missing: it is revived when that parent is
 * retried, see {@link workflowRetryResume}).
 */
export function workflowRetryable(names: SchemaNames, alias: string): string {
  const s = names.quoted
  return `(${alias}.workflow_id IS NULL OR (
           NOT EXISTS (SELECT 1 FROM ${s}.workflows AS rw WHERE rw.id = ${alias}.workflow_id AND rw.cancelled_at IS NOT NULL)
           AND NOT EXISTS (SELECT 1 FROM ${s}.workflow_nodes AS rn JOIN ${s}.workflows AS rw ON rw.id = rn.workflow_id
                           WHERE rn.job_id = ${alias}.id AND rn.failed > 0 AND (rw.policy = 'cancel' OR rn.input = 'value'))))`
}

/**
 * @internal The retry's side of the fan-in, as CTEs to append to the statement that retries jobs.
 * `retried` names an earlier CTE with columns `id` and `workflow_id` of jobs that were failed,
 * cancelled or expired (so counted as failed parents by {@link workflowFanIn}) and are waiting again: each
 * dependant gets them back as pending parents and loses them as failed ones, on its
 * `workflow_nodes` row locked in job id order. The `workflow_nodes_revive` trigger (migration 0013)
 * fires at the end of the statement and puts a dependant cancelled by the failure back to
 * `blocked`, recursively. The statement must select from `wf_resume` ({@link WORKFLOW_RESUME_REF}).
 */
export function workflowRetryResume(names: SchemaNames, retried: string): string {
  const deps = `${names.quoted}.job_dependencies`
  const nodes = `${names.quoted}.workflow_nodes`
  return `wf_back_edges AS (
       SELECT d.job_id, count(*)::int AS n
       FROM ${retried} r JOIN ${deps} d ON d.parent_id = r.id
       WHERE r.workflow_id IS NOT NULL
       GROUP BY d.job_id
     ),
     wf_back_locked AS MATERIALIZED (
       SELECT n.job_id FROM ${nodes} n WHERE n.job_id IN (SELECT e.job_id FROM wf_back_edges e) ORDER BY n.job_id FOR UPDATE
     ),
     wf_resume AS (
       UPDATE ${nodes} AS n SET pending = n.pending + e.n, failed = n.failed - e.n
       FROM wf_back_edges e, wf_back_locked l
       WHERE n.job_id = e.job_id AND l.job_id = e.job_id
       RETURNING n.job_id
     )`
}

/** @internal A FROM item that makes a statement depend on {@link workflowRetryResume}'s CTEs. */
export const WORKFLOW_RESUME_REF = '(SELECT count(*) FROM wf_resume) AS wf_resumed'

/**
 * @internal Why a failed, cancelled or expired workflow node is not retried: `workflow_cancelled` (its
 * workflow was cancelled), `parent_failed` (a parent that failed keeps it from running), or
 * undefined (not a node, not failed, cancelled or expired, or retryable).
 */
export async function workflowRetryRefusal(
  db: Executor,
  names: SchemaNames,
  id: string,
): Promise<{ reason: 'workflow_cancelled' | 'parent_failed'; workflowId: string } | undefined> {
  const s = names.quoted
  const { rows } = await runQuery<{ reason: 'workflow_cancelled' | 'parent_failed'; workflow_id: string }>(
    db,
    `SELECT CASE WHEN w.cancelled_at IS NOT NULL THEN 'workflow_cancelled' ELSE 'parent_failed' END AS reason,
       j.workflow_id::text AS workflow_id
     FROM ${names.jobs} AS j JOIN ${s}.workflows AS w ON w.id = j.workflow_id
     WHERE j.id = $1::bigint AND j.state IN ('failed', 'cancelled', 'expired') AND NOT ${workflowRetryable(names, 'j')}`,
    [id],
  )
  const row = rows[0]
  return row && { reason: row.reason, workflowId: row.workflow_id }
}

/** @internal One node of a workflow as `create_workflow()` takes it (an enqueue_many object). */
export interface WorkflowNodeRow {
  readonly task: string
  readonly payload?: unknown
  readonly queue?: string
  readonly priority?: number
  readonly max_attempts?: number
  readonly delay_ms?: number
  readonly run_at?: string
  readonly meta?: Record<string, unknown>
  readonly after?: readonly number[]
  readonly input?: 'value' | 'list'
}

/** @internal Creates a workflow on `db` (the caller's transaction, or the pool). */
export async function createWorkflow(
  db: Executor,
  names: SchemaNames,
  params: {
    nodes: readonly WorkflowNodeRow[]
    policy: 'cancel' | 'continue'
    name: string | null
    output: readonly number[]
    outputList: boolean
  },
): Promise<{ workflowId: string; jobIds: string[] }> {
  const result = await runQuery<{ workflow_id: string; job_id: string }>(
    db,
    `SELECT workflow_id::text, job_id::text FROM ${names.quoted}.create_workflow($1::jsonb, $2, $3, $4::int[], $5)
     ORDER BY node`,
    [JSON.stringify(params.nodes), params.policy, params.name, params.output, params.outputList],
  )
  return { workflowId: result.rows[0]!.workflow_id, jobIds: result.rows.map((r) => r.job_id) }
}

/** @internal A workflow row with its nodes, as {@link getWorkflow} reads it. */
export interface WorkflowRow {
  id: string
  name: string | null
  policy: 'cancel' | 'continue'
  output_ids: string[]
  output_list: boolean
  created_at: Date
  cancelled_at: Date | null
  nodes: Array<{
    id: string
    task: string
    queue: string
    state: string
    result: unknown
    errors: unknown[]
    parents: string[]
  }>
}

/** @internal Reads a workflow and all its nodes, in creation order (nodes already pruned are left out). */
export async function getWorkflow(
  db: Executor,
  names: SchemaNames,
  id: string,
): Promise<WorkflowRow | undefined> {
  const s = names.quoted
  const result = await runQuery<WorkflowRow>(
    db,
    `SELECT w.id::text, w.name, w.policy, w.output_ids::text[] AS output_ids, w.output_list, w.created_at, w.cancelled_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', j.id::text, 'task', j.task, 'queue', j.queue, 'state', j.state,
                  'result', j.result, 'errors', j.errors,
                  'parents', ARRAY(SELECT d.parent_id::text FROM ${s}.job_dependencies d WHERE d.job_id = j.id ORDER BY d.position))
                  ORDER BY x.k)
                 FROM unnest(w.node_ids) WITH ORDINALITY AS x(id, k) JOIN ${names.jobs} j ON j.id = x.id), '[]'::jsonb) AS nodes
     FROM ${s}.workflows w WHERE w.id = $1::bigint`,
    [id],
  )
  return result.rows[0]
}

/**
 * @internal Cancels a workflow: its blocked and available nodes become `cancelled` at once, its
 * running nodes get a cancel request (`cancel:<id>`, the existing path: their worker aborts them).
 * Returns how many nodes were cancelled and how many were asked to stop; undefined when unknown.
 */
export async function cancelWorkflow(
  db: Executor,
  names: SchemaNames,
  params: { id: string; retentionMs: number },
): Promise<{ cancelled: number; cancelRequested: number } | undefined> {
  const s = names.quoted
  const result = await runQuery<{ found: boolean; cancelled: number; requested: number }>(
    db,
    `WITH wf AS (
       UPDATE ${s}.workflows w SET cancelled_at = coalesce(w.cancelled_at, now()) WHERE w.id = $1::bigint RETURNING w.id
     ),
     target AS MATERIALIZED (
       SELECT j.id FROM ${names.jobs} j, wf
       WHERE j.workflow_id = wf.id AND j.state IN ('blocked', 'available', 'running') ORDER BY j.id FOR UPDATE
     ),
     updated AS (
       UPDATE ${names.jobs} AS j SET
         state = CASE WHEN j.state = 'running' THEN j.state ELSE 'cancelled' END,
         finished_at = CASE WHEN j.state = 'running' THEN j.finished_at ELSE now() END,
         delete_after = CASE WHEN j.state = 'running' THEN j.delete_after
           ELSE now() + $2::float8 * interval '1 millisecond' END,
         cancel_requested_at = coalesce(j.cancel_requested_at, now())
       FROM target t
       WHERE j.id = t.id AND j.state IN ('blocked', 'available', 'running')
       RETURNING j.id, j.state
     ),
     notified AS (
       SELECT count(pg_notify($3, CASE WHEN u.state = 'cancelled' THEN 'finished:' ELSE 'cancel:' END || u.id::text)) AS n
       FROM updated u
     )
     SELECT EXISTS (SELECT 1 FROM wf) AS found,
       (SELECT count(*) FROM updated WHERE state = 'cancelled')::int AS cancelled,
       (SELECT count(*) FROM updated WHERE state = 'running')::int AS requested
     FROM notified`,
    [params.id, params.retentionMs, names.eventsChannel],
  )
  const row = result.rows[0]
  if (!row?.found) return undefined
  return { cancelled: row.cancelled, cancelRequested: row.requested }
}

/**
 * @internal The pruner's statement for workflows: deletes up to `limit` workflow rows created more
 * than `minAgeMs` ago whose nodes are all gone (pruned or deleted); their `workflow_nodes` and
 * `job_dependencies` rows go with them (ON DELETE CASCADE). Uses the partial index on
 * jobs.workflow_id. Returns how many workflows it deleted.
 */
export async function pruneEmptyWorkflows(
  db: Executor,
  names: SchemaNames,
  limit: number,
  minAgeMs = 60_000,
): Promise<number> {
  const s = names.quoted
  const result = await runQuery(
    db,
    `DELETE FROM ${s}.workflows AS w
     WHERE w.id IN (
       SELECT o.id FROM ${s}.workflows AS o
       WHERE o.created_at < now() - $2 * interval '1 millisecond'
         AND NOT EXISTS (SELECT 1 FROM ${names.jobs} AS j WHERE j.workflow_id = o.id)
       ORDER BY o.created_at
       LIMIT $1
       FOR UPDATE SKIP LOCKED
     )`,
    [limit, minAgeMs],
  )
  return result.rowCount
}
