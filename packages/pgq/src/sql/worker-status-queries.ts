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
 * The rule of the `worker_status` view for a stale heartbeat (older than 3 of the worker's
 * intervals and at least 15 s), on the row aliased `w`; inlined where a worker reads it, since a
 * worker role need not read the view.
 */
const STALE =
  'w.heartbeat_at < now() - make_interval(secs => greatest(3 * coalesce(w.heartbeat_ms, 5000), 15000) / 1000.0)'

/**
 * @internal Marks worker rows `lost` whose heartbeat went stale — older than 3 of their intervals and
 * at least 15 s, the rule of the `worker_status` view (inlined: a worker role need not read the
 * view) — keeping their last heartbeat as `stopped_at`. Their jobs come back by lease expiry.
 */
export async function markLostWorkers(db: Executor, names: SchemaNames): Promise<number> {
  const result = await runQuery(
    db,
    `UPDATE ${names.workers} AS w SET stopped_at = w.heartbeat_at, stop_reason = 'lost'
     WHERE w.stopped_at IS NULL AND ${STALE}`,
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

/**
 * @internal For each of `queues`: how many live workers take part in bounded wake-ups for it
 * (`meta.wake = 'ranked'`: they listen and rank themselves), and how many of them have a smaller id
 * than `workerId` — its rank (worker/wake-selection.ts). Queues where `workerId` itself is not among
 * them (its row stale or not yet written) are absent: a rank that others do not count is no rank.
 */
export async function selectWakeRanks(
  db: Executor,
  names: SchemaNames,
  workerId: string,
  queues: readonly string[],
): Promise<Map<string, { rank: number; size: number }>> {
  const result = await runQuery<{ queue: string; rank: number; size: number }>(
    db,
    `SELECT q.queue, count(*) FILTER (WHERE w.id < $1::uuid)::int AS rank, count(*)::int AS size
     FROM ${names.workers} AS w CROSS JOIN LATERAL unnest(w.queues) AS q(queue)
     WHERE q.queue = ANY($2::text[]) AND w.stopped_at IS NULL AND NOT (${STALE})
       AND w.meta ->> 'wake' = 'ranked'
     GROUP BY q.queue
     HAVING bool_or(w.id = $1::uuid)`,
    [workerId, queues],
  )
  return new Map(result.rows.map((r) => [r.queue, { rank: r.rank, size: r.size }]))
}
