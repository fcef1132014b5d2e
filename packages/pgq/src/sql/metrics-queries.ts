// The queue gauges of `@pgq/core/metrics`, read at scrape time in one statement that touches only rows the
// partial indexes cover (available, running and failed jobs) and the small workers table — never a
// scan of finished history.
import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

/** @internal One value of the queue gauges: jobs per (queue, state), lag, live workers. */
export interface QueueGaugeRow {
  kind: 'jobs' | 'lag' | 'workers' | 'queue_workers'
  queue: string | null
  state: 'waiting' | 'scheduled' | 'running' | 'failed' | null
  value: number
}

/**
 * @internal Jobs waiting (due), scheduled (due later), running and failed per queue; the age in
 * seconds of the oldest due job per queue; live workers in all and per queue they serve (from the
 * `worker_status` view). Succeeded, cancelled and expired jobs are not counted: no index covers them
 * (expired jobs are counted as they expire: `pgq_jobs_expired_total` of the worker metrics).
 */
export async function readQueueGauges(db: Executor, names: SchemaNames): Promise<QueueGaugeRow[]> {
  const result = await runQuery<QueueGaugeRow>(
    db,
    `WITH a AS (
       SELECT j.queue,
         count(*) FILTER (WHERE j.run_at <= now()) AS waiting,
         count(*) FILTER (WHERE j.run_at > now()) AS scheduled,
         min(j.run_at) FILTER (WHERE j.run_at <= now()) AS oldest_due
       FROM ${names.jobs} AS j WHERE j.state = 'available' GROUP BY j.queue
     ),
     r AS (SELECT j.queue, count(*) AS n FROM ${names.jobs} AS j WHERE j.state = 'running' GROUP BY j.queue),
     f AS (SELECT j.queue, count(*) AS n FROM ${names.jobs} AS j WHERE j.state = 'failed' GROUP BY j.queue),
     w AS (SELECT s.queues FROM ${names.workerStatus} AS s WHERE s.status = 'alive')
     SELECT 'jobs' AS kind, a.queue, 'waiting' AS state, a.waiting::float8 AS value FROM a
     UNION ALL SELECT 'jobs', a.queue, 'scheduled', a.scheduled::float8 FROM a
     UNION ALL SELECT 'lag', a.queue, NULL, coalesce(extract(epoch FROM now() - a.oldest_due), 0)::float8 FROM a
     UNION ALL SELECT 'jobs', r.queue, 'running', r.n::float8 FROM r
     UNION ALL SELECT 'jobs', f.queue, 'failed', f.n::float8 FROM f
     UNION ALL SELECT 'workers', NULL, NULL, count(*)::float8 FROM w
     UNION ALL SELECT 'queue_workers', q.queue, NULL, count(*)::float8 FROM w CROSS JOIN LATERAL unnest(w.queues) AS q(queue) GROUP BY q.queue`,
  )
  return result.rows
}

/**
 * @internal Per queue with due jobs waiting: the age in seconds of the oldest (the lag). Reads only
 * available jobs, through the claim index.
 */
export async function readQueueLags(
  db: Executor,
  names: SchemaNames,
): Promise<{ queue: string; lag_seconds: number }[]> {
  const result = await runQuery<{ queue: string; lag_seconds: number }>(
    db,
    `SELECT j.queue, extract(epoch FROM now() - min(j.run_at))::float8 AS lag_seconds
     FROM ${names.jobs} AS j WHERE j.state = 'available' AND j.run_at <= now()
     GROUP BY j.queue ORDER BY j.queue`,
  )
  return result.rows
}
