// The life of worker rows after their worker: marked stopped or lost instead of deleted, listed with
// their status, deleted by the pruner a day after they left (migration 0008).
import type { Selectable } from 'kysely'
import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import type { WorkerStatusView } from '../db/tables.js'

/** @internal Graceful deregister: the row stays (status `stopped`) until the pruner deletes it. */
export async function markWorkerStopped(db: Executor, names: SchemaNames, workerId: string): Promise<void> {
  await runQuery(
    db,
    `UPDATE ${names.workers} SET stopped_at = now(), stop_reason = 'stopped' WHERE id = $1`,
    [workerId],
  )
}

/**
 * @internal Marks worker rows `lost` whose heartbeat went stale — older than 3 of their intervals and
 * at least 15 s, the rule of the `worker_status` view (inlined: a worker role need not read the
 * view) — keeping their last heartbeat as `stopped_at`. Their jobs come back by lease expiry.
 */
export async function markLostWorkers(db: Executor, names: SchemaNames): Promise<number> {
  const result = await runQuery(
    db,
    `UPDATE ${names.workers} SET stopped_at = heartbeat_at, stop_reason = 'lost'
     WHERE stopped_at IS NULL
       AND heartbeat_at < now() - make_interval(secs => greatest(3 * coalesce(heartbeat_ms, 5000), 15000) / 1000.0)`,
  )
  return result.rowCount
}

/**
 * @internal Deletes the rows of workers gone for more than `keepMs` (default a day): stopped or
 * lost ones, and stale ones no rescuer marked. The workers table is small: no batching needed.
 */
export async function pruneGoneWorkers(
  db: Executor,
  names: SchemaNames,
  keepMs = 86_400_000,
): Promise<number> {
  const result = await runQuery(
    db,
    `DELETE FROM ${names.workers}
     WHERE coalesce(stopped_at, heartbeat_at) < now() - $1 * interval '1 millisecond'`,
    [keepMs],
  )
  return result.rowCount
}

/** @internal A row of the `worker_status` view as `listWorkers` reads it (`running_jobs` cast to int). */
export type WorkerStatusRow = Omit<Selectable<WorkerStatusView>, 'running_jobs'> & { running_jobs: number }

/**
 * @internal Live workers, and those gone within `goneWithinMs` (stopped or lost), alive first, then
 * newest start first.
 */
export async function listWorkers(
  db: Executor,
  names: SchemaNames,
  goneWithinMs: number,
): Promise<WorkerStatusRow[]> {
  const result = await runQuery<WorkerStatusRow>(
    db,
    `SELECT w.id::text AS id, w.hostname, w.pid, w.queues, w.concurrency, w.started_at, w.heartbeat_at,
       w.stopped_at, w.status, w.running_jobs::int AS running_jobs
     FROM ${names.workerStatus} AS w
     WHERE w.status = 'alive'
        OR coalesce(w.stopped_at, w.heartbeat_at) >= now() - $1 * interval '1 millisecond'
     ORDER BY w.status <> 'alive', w.started_at DESC, w.id`,
    [goneWithinMs],
  )
  return result.rows
}
