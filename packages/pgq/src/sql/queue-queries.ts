import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { type ClaimedJob, type ClaimedJobRow, toClaimedJob } from './worker-queries.js'

/** @internal A row of `<schema>.queue_status`: a queue's flow-control settings and its load. */
export interface QueueStatusRow {
  queue: string
  paused: boolean
  concurrency: number | null
  running: string
  waiting: string
}

/** @internal The settings a write changes; `undefined` leaves a setting as it is, `null` clears it. */
export interface QueueSettingsWrite {
  concurrency?: number | null
}

/**
 * @internal Claims up to `limit` due jobs of a queue that has limits, through `claim_limited()`
 * (migration 0012): under the queue's row lock it claims nothing while the queue is paused and no
 * more than its global concurrency leaves free. Same rows as the plain claim.
 */
export async function claimLimitedJobs(
  db: Executor,
  names: SchemaNames,
  params: { queue: string; limit: number; workerId: string; leaseMs: number; tasks: string[] },
): Promise<ClaimedJob[]> {
  const result = await runQuery<ClaimedJobRow>(
    db,
    `SELECT id::text AS id, task, queue, payload, attempts, max_attempts, lease_token::text AS lease_token,
            trace, wait_ms, steps
     FROM ${names.quoted}.claim_limited($1, $2, $3, $4, $5::text[])`,
    [params.queue, params.limit, params.workerId, params.leaseMs, params.tasks],
  )
  return result.rows.map(toClaimedJob)
}

/** @internal Which of `queues` have a row that limits something (paused, a global concurrency). */
export async function selectLimitedQueues(
  db: Executor,
  names: SchemaNames,
  queues: readonly string[],
): Promise<Set<string>> {
  const result = await runQuery<{ name: string }>(
    db,
    `SELECT name FROM ${names.queues} WHERE name = ANY($1::text[]) AND limited`,
    [queues],
  )
  return new Set(result.rows.map((row) => row.name))
}

/** @internal Pauses (true) or resumes (false) a queue, creating its row when missing. */
export async function setQueuePaused(db: Executor, names: SchemaNames, queue: string, paused: boolean) {
  await runQuery(db, `SELECT ${names.quoted}.${paused ? 'pause_queue' : 'resume_queue'}($1)`, [queue])
}

/** @internal Writes a queue's limits (creating its row when missing); returns the row. */
export async function writeQueueSettings(
  db: Executor,
  names: SchemaNames,
  queue: string,
  settings: QueueSettingsWrite,
): Promise<void> {
  await runQuery(
    db,
    `INSERT INTO ${names.queues} AS q (name, concurrency) VALUES ($1, $3)
     ON CONFLICT (name) DO UPDATE
       SET concurrency = CASE WHEN $2 THEN $3 ELSE q.concurrency END,
           updated_at = now()`,
    [queue, settings.concurrency !== undefined, settings.concurrency ?? null],
  )
}

/** @internal Every queue with a settings row or live jobs, by name. */
export async function listQueueStatus(db: Executor, names: SchemaNames): Promise<QueueStatusRow[]> {
  const result = await runQuery<QueueStatusRow>(
    db,
    `SELECT queue, paused, concurrency, running::text AS running, waiting::text AS waiting
     FROM ${names.queueStatus} ORDER BY queue`,
  )
  return result.rows
}
