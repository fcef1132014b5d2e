import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import type { ClaimedJob } from './worker-queries.js'

/** @internal Which job `claimNextDue` may take: due by `now` (null: the database clock). */
export interface DueFilter {
  readonly tasks: readonly string[]
  /** Only these queues (null: every queue). */
  readonly queues: readonly string[] | null
  /** Only this job (null: any). */
  readonly id: string | null
  readonly now: Date | null
  readonly workerId: string
  readonly leaseMs: number
}

/**
 * @internal @pgq/core/testing's claim: the one due job that comes first in time (run_at, then priority,
 * then id), claimed as a worker claims it (attempt counted, lease token, started_at). Jobs due by a
 * `now` later than the database clock count as due. Synchronous commit (a test reads right after).
 */
export async function claimNextDue(
  db: Executor,
  names: SchemaNames,
  filter: DueFilter,
): Promise<ClaimedJob | null> {
  const result = await runQuery<{
    id: string
    task: string
    queue: string
    payload: unknown
    attempts: number
    max_attempts: number
    lease_token: string
    trace: unknown
    steps: Record<string, unknown> | null
  }>(
    db,
    `WITH picked AS MATERIALIZED (
       SELECT id FROM ${names.jobs}
       WHERE state = 'available' AND run_at <= coalesce($1::timestamptz, now())
         AND task = ANY($2::text[]) AND ($3::text[] IS NULL OR queue = ANY($3::text[]))
         AND ($4::bigint IS NULL OR id = $4::bigint)
       ORDER BY run_at, priority DESC, id
       LIMIT 1
       FOR UPDATE SKIP LOCKED
     )
     UPDATE ${names.jobs} AS j
     SET state = 'running', attempts = j.attempts + 1, locked_by = $5,
         lease_token = gen_random_uuid(), lease_expires_at = now() + $6 * interval '1 millisecond',
         started_at = now()
     FROM picked
     WHERE j.id = picked.id
     RETURNING j.id::text AS id, j.task, j.queue, j.payload, j.attempts, j.max_attempts,
               j.lease_token::text AS lease_token, j.meta->'trace' AS trace, j.steps`,
    [
      filter.now,
      [...filter.tasks],
      filter.queues && [...filter.queues],
      filter.id,
      filter.workerId,
      filter.leaseMs,
    ],
  )
  const row = result.rows[0]
  if (!row) return null
  return {
    id: row.id,
    task: row.task,
    queue: row.queue,
    payload: row.payload,
    attempt: row.attempts,
    maxAttempts: row.max_attempts,
    leaseToken: row.lease_token,
    trace: row.trace,
    waitMs: 0,
    steps: row.steps,
  }
}

/** @internal A job row as @pgq/core/testing reports it. */
export interface TestJobRow {
  id: string
  task: string
  queue: string
  state: string
  payload: unknown
  result: unknown
  errors: { name?: string; message?: string }[]
  priority: number
  attempts: number
  max_attempts: number
  run_at: Date
  dedup_key: string | null
  schedule_name: string | null
}

/** @internal The jobs matching a filter, oldest first; `payload` matches by JSON containment (`@>`). */
export async function listTestJobs(
  db: Executor,
  names: SchemaNames,
  filter: {
    readonly ids: readonly string[] | null
    readonly task: string | null
    readonly queue: string | null
    readonly states: readonly string[] | null
    readonly payload: string | null
  },
): Promise<TestJobRow[]> {
  const result = await runQuery<TestJobRow>(
    db,
    `SELECT id::text AS id, task, queue, state, payload, result, errors, priority, attempts, max_attempts,
            run_at, dedup_key, schedule_name
     FROM ${names.jobs}
     WHERE ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) AND ($2::text IS NULL OR task = $2)
       AND ($3::text IS NULL OR queue = $3) AND ($4::text[] IS NULL OR state = ANY($4::text[]))
       AND ($5::jsonb IS NULL OR payload @> $5::jsonb)
     ORDER BY id`,
    [
      filter.ids && [...filter.ids],
      filter.task,
      filter.queue,
      filter.states && [...filter.states],
      filter.payload,
    ],
  )
  return result.rows
}

/** @internal The earliest tick of an active schedule due by `now`, or null when none is. */
export async function nextScheduleTick(db: Executor, names: SchemaNames, now: Date): Promise<Date | null> {
  const result = await runQuery<{ at: Date | null }>(
    db,
    `SELECT min(next_run_at) AS at FROM ${names.schedules}
     WHERE NOT paused AND error IS NULL AND next_run_at <= $1::timestamptz`,
    [now],
  )
  return result.rows[0]?.at ?? null
}
