import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { lockedInIdOrder } from './statement-parts.js'
import { WORKFLOW_FAN_IN_REF, workflowFanIn } from './workflow-queries.js'

// The statements about the leases of held jobs: the worker row and heartbeat, release on shutdown,
// and the rescue of expired leases.

/** @internal What the workers row says about a worker (inserted again by the heartbeat if deleted). */
export interface WorkerRow {
  readonly id: string
  readonly hostname: string
  readonly pid: number
  readonly queues: readonly string[]
  readonly concurrency: number
  readonly heartbeatMs: number
  /** Takes part in bounded wake-ups (it listens and ranks itself among the queue's workers). */
  readonly rankedWake: boolean
}

/** Refreshing a worker row revives it: a worker marked lost during an outage is alive again. */
const REVIVE = 'heartbeat_at = now(), stopped_at = NULL, stop_reason = NULL'

/** A worker row's columns after its id, in the order both statements that write the row take them. */
function workerValues(worker: WorkerRow): unknown[] {
  const { hostname, pid, queues, concurrency, heartbeatMs, rankedWake } = worker
  return [hostname, pid, queues, concurrency, heartbeatMs, rankedWake]
}

/** The worker row's `meta` from the boolean parameter `param` (WorkerRow.rankedWake). */
function workerMeta(param: string): string {
  return `CASE WHEN ${param}::boolean THEN '{"wake":"ranked"}'::jsonb ELSE '{}'::jsonb END`
}

/** @internal Registers (or refreshes) a worker row. */
export async function upsertWorker(db: Executor, names: SchemaNames, worker: WorkerRow): Promise<void> {
  await runQuery(
    db,
    `INSERT INTO ${names.workers} (id, hostname, pid, queues, concurrency, heartbeat_ms, meta)
     VALUES ($1, $2, $3, $4, $5, $6, ${workerMeta('$7')})
     ON CONFLICT (id) DO UPDATE SET ${REVIVE}`,
    [worker.id, ...workerValues(worker)],
  )
}

/** @internal A held job whose lease the heartbeat extended, and whether a cancel was requested. */
export interface RenewedLeaseRow {
  id: string
  cancel_requested: boolean
}

/**
 * @internal The heartbeat: refreshes the worker row — reviving it when a rescuer marked it lost (as
 * happens to every worker after a long outage), inserting it again when the pruner deleted it —
 * and extends the leases of all jobs it holds, in one statement. Held jobs missing from the result
 * have lost their lease.
 */
export async function renewLeases(
  db: Executor,
  names: SchemaNames,
  params: { worker: WorkerRow; ids: string[]; tokens: string[]; leaseMs: number },
): Promise<RenewedLeaseRow[]> {
  const { worker } = params
  const result = await runQuery<RenewedLeaseRow>(
    db,
    `WITH beat AS (
       INSERT INTO ${names.workers} (id, hostname, pid, queues, concurrency, heartbeat_ms, meta)
       VALUES ($1, $5, $6, $7, $8, $9, ${workerMeta('$10')})
       ON CONFLICT (id) DO UPDATE SET ${REVIVE}
       RETURNING id
     ),
     locked AS MATERIALIZED (${lockedInIdOrder(names, 'SELECT * FROM unnest($2::bigint[], $3::uuid[]) AS h(id, token)')}),
     renewed AS (
       UPDATE ${names.jobs} AS j
       SET lease_expires_at = now() + $4 * interval '1 millisecond'
       FROM locked AS h
       WHERE j.id = h.id AND j.lease_token = h.token
       RETURNING j.id, j.cancel_requested_at IS NOT NULL AS cancel_requested
     )
     SELECT r.id::text AS id, r.cancel_requested FROM renewed r, (SELECT count(*) FROM beat) AS b`,
    [worker.id, params.ids, params.tokens, params.leaseMs, ...workerValues(worker)],
  )
  return result.rows
}

/**
 * @internal Gives held jobs back without charging an attempt (graceful shutdown), and wakes their
 * queues so another worker takes them at once.
 */
export async function releaseJobs(
  db: Executor,
  names: SchemaNames,
  params: { ids: string[]; tokens: string[] },
): Promise<string[]> {
  const result = await runQuery<{ id: string }>(
    db,
    `WITH locked AS MATERIALIZED (${lockedInIdOrder(names, 'SELECT * FROM unnest($1::bigint[], $2::uuid[]) AS h(id, token)')}),
     released AS (
       UPDATE ${names.jobs} AS j
       SET state = 'available', attempts = j.attempts - 1, run_at = now(),
           locked_by = NULL, lease_token = NULL, lease_expires_at = NULL, started_at = NULL
       FROM locked AS h
       WHERE j.id = h.id AND j.lease_token = h.token
       RETURNING j.id, j.queue
     ),
     woken AS (SELECT count(pg_notify($3, queue)) AS n FROM (SELECT DISTINCT queue FROM released) q)
     SELECT r.id::text AS id FROM released r, woken`,
    [params.ids, params.tokens, names.jobsChannel],
  )
  return result.rows.map((r) => r.id)
}

/**
 * @internal The JobRescuer's statement: running jobs whose lease expired go back to `available`
 * (one more interruption, attempt not charged), or to `failed` once their interruption cap is
 * reached. The expiry is re-checked on the locked row, so a job renewed or finished meanwhile is
 * left alone. One rescuer at a time scans (a transaction-level advisory lock per schema; the
 * others find it taken and skip the scan): the running jobs are read through
 * `jobs_running_queue_idx`, whole, since no index orders them by lease (migration 0016).
 */
export async function rescueExpiredJobs(
  db: Executor,
  names: SchemaNames,
  params: { limit: number; failedRetentionMs: number | null },
): Promise<{ requeued: number; failed: number }> {
  const result = await runQuery<{ requeued: string; failed: string }>(
    db,
    `WITH rescuer AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(hashtextextended($5, 0)) AS alone),
     expired AS MATERIALIZED (
       SELECT id FROM ${names.jobs}
       WHERE state = 'running' AND lease_expires_at < now() AND (SELECT alone FROM rescuer)
       ORDER BY lease_expires_at
       LIMIT $1
       FOR UPDATE SKIP LOCKED
     ),
     rescued AS (
       UPDATE ${names.jobs} AS j
       SET state = CASE WHEN j.interruptions + 1 >= j.max_interruptions THEN 'failed' ELSE 'available' END,
           interruptions = j.interruptions + 1,
           attempts = j.attempts - 1,
           run_at = now(),
           errors = CASE WHEN j.interruptions + 1 >= j.max_interruptions
             THEN j.errors || jsonb_build_array(jsonb_build_object(
               'attempt', j.attempts, 'at', now(), 'startedAt', j.started_at, 'worker', j.locked_by, 'name', 'InterruptedError',
               'message', format('interrupted %s times: the worker running it died or lost its lease', j.interruptions + 1)))
             ELSE j.errors END,
           finished_at = CASE WHEN j.interruptions + 1 >= j.max_interruptions THEN now() END,
           delete_after = CASE WHEN j.interruptions + 1 >= j.max_interruptions AND $2::float8 IS NOT NULL
             THEN now() + $2::float8 * interval '1 millisecond' END,
           locked_by = NULL, lease_token = NULL, lease_expires_at = NULL, started_at = NULL
       FROM expired
       WHERE j.id = expired.id AND j.state = 'running' AND j.lease_expires_at < now()
       RETURNING j.id, j.state, j.queue, j.workflow_id
     ),
     ${workflowFanIn(names, 'rescued', "f.state = 'failed'")},
     woken AS (
       SELECT count(pg_notify($3, queue)) AS n FROM (SELECT DISTINCT queue FROM rescued WHERE state = 'available') q
     ),
     finished AS (
       SELECT count(pg_notify($4, 'finished:' || ids)) AS n
       FROM (SELECT string_agg(id::text, ',') AS ids FROM rescued WHERE state = 'failed' GROUP BY id / 500) c
     )
     SELECT count(*) FILTER (WHERE r.state = 'available') AS requeued, count(*) FILTER (WHERE r.state = 'failed') AS failed
     FROM rescued r, woken, finished, ${WORKFLOW_FAN_IN_REF}`,
    [
      params.limit,
      params.failedRetentionMs,
      names.jobsChannel,
      names.eventsChannel,
      `pgq:rescuer:${names.schema}`,
    ],
  )
  const row = result.rows[0]
  return { requeued: Number(row?.requeued ?? 0), failed: Number(row?.failed ?? 0) }
}
