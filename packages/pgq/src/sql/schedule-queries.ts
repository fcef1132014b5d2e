import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

/** @internal A row of `<schema>.schedules` as pgq reads it (`payload` as JSON text, ids as strings). */
export interface ScheduleRow {
  name: string
  cron: string
  timezone: string
  task: string
  payload: string
  /** Null: the task's registered queue at enqueue, else `default`. */
  queue: string | null
  /** Null: the task's registered priority at enqueue, else 0. */
  priority: number | null
  max_attempts: number | null
  missed: 'skip' | 'once' | 'all'
  backfill_limit: number
  paused: boolean
  source: 'code' | 'table'
  next_run_at: Date | null
  last_run_at: Date | null
  last_job_id: string | null
  error: string | null
  created_at: Date
  updated_at: Date
}

/** @internal A schedule row plus the state of its last job (null when there is none or it was pruned). */
export interface ScheduleListRow extends ScheduleRow {
  last_job_state: string | null
}

/** @internal A claimed due schedule, with the time the claim was judged against. */
export interface DueScheduleRow extends ScheduleRow {
  now: Date
}

/** @internal The definition columns written by `upsertSchedule` / `insertSchedule`. */
export interface ScheduleWrite {
  name: string
  cron: string
  timezone: string
  task: string
  payloadJson: string
  queue: string | null
  priority: number | null
  maxAttempts: number | null
  missed: string
  backfillLimit: number
  source: 'code' | 'table'
  nextRunAt: Date | null
}

/** @internal How a scheduler pass leaves a claimed schedule. */
export interface ScheduleAdvance {
  name: string
  next_run_at: string | null
  last_run_at: string | null
  last_job_id: string | null
  error: string | null
}

/** The columns of a {@link ScheduleRow}, of table alias `s`. */
const COLUMNS = `s.name, s.cron, s.timezone, s.task, s.payload::text AS payload, s.queue, s.priority,
  s.max_attempts, s.missed, s.backfill_limit, s.paused, s.source, s.next_run_at, s.last_run_at,
  s.last_job_id::text AS last_job_id, s.error, s.created_at, s.updated_at`

/**
 * @internal Claims up to `limit` schedules that are due (or whose next run time is not computed
 * yet) and neither paused nor errored. `FOR UPDATE SKIP LOCKED`: concurrent schedulers claim
 * disjoint rows, and a row advanced by a committed pass no longer matches. Run inside a transaction.
 */
export async function claimDueSchedules(
  db: Executor,
  names: SchemaNames,
  limit: number,
  now?: Date,
): Promise<DueScheduleRow[]> {
  const result = await runQuery<DueScheduleRow>(
    db,
    `SELECT ${COLUMNS}, coalesce($1::timestamptz, now()) AS now
     FROM ${names.schedules} AS s
     WHERE NOT paused AND error IS NULL
       AND (next_run_at IS NULL OR next_run_at <= coalesce($1::timestamptz, now()))
     ORDER BY next_run_at NULLS FIRST, name
     LIMIT $2
     FOR UPDATE SKIP LOCKED`,
    [now ?? null, limit],
  )
  return result.rows
}

/** @internal The ticks among `(names[i], times[i])` that already have a job (so they are not fired again). */
export async function findFiredTicks(
  db: Executor,
  names: SchemaNames,
  scheduleNames: string[],
  times: string[],
): Promise<Set<string>> {
  if (scheduleNames.length === 0) return new Set()
  const result = await runQuery<{ name: string; at: Date }>(
    db,
    `SELECT j.schedule_name AS name, j.scheduled_for AS at
     FROM ${names.jobs} j
     JOIN unnest($1::text[], $2::timestamptz[]) AS t(name, at)
       ON j.schedule_name = t.name AND j.scheduled_for = t.at`,
    [scheduleNames, times],
  )
  return new Set(result.rows.map((row) => `${row.name}@${row.at.toISOString()}`))
}

/** @internal Writes the outcome of a scheduler pass for each claimed schedule (one statement). */
export async function advanceSchedules(
  db: Executor,
  names: SchemaNames,
  advances: ScheduleAdvance[],
): Promise<void> {
  if (advances.length === 0) return
  await runQuery(
    db,
    `UPDATE ${names.schedules} AS s
     SET next_run_at = u.next_run_at,
         last_run_at = coalesce(u.last_run_at, s.last_run_at),
         last_job_id = coalesce(u.last_job_id, s.last_job_id),
         error = u.error
     FROM jsonb_to_recordset($1::jsonb) AS u(
       name text, next_run_at timestamptz, last_run_at timestamptz, last_job_id bigint, error text)
     WHERE s.name = u.name`,
    [JSON.stringify(advances)],
  )
}

function writeValues(s: ScheduleWrite): unknown[] {
  const head: unknown[] = [s.name, s.cron, s.timezone, s.task, s.payloadJson, s.queue, s.priority]
  return head.concat([s.maxAttempts, s.missed, s.backfillLimit, s.source, s.nextRunAt])
}

const INSERT = (names: SchemaNames) => `INSERT INTO ${names.schedules} AS s
  (name, cron, timezone, task, payload, queue, priority, max_attempts, missed, backfill_limit, source, next_run_at)
  VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12)`

/** @internal Creates a schedule; returns null when one with that name exists. */
export async function insertSchedule(
  db: Executor,
  names: SchemaNames,
  write: ScheduleWrite,
): Promise<ScheduleRow | null> {
  const result = await runQuery<ScheduleRow>(
    db,
    `${INSERT(names)} ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
    writeValues(write),
  )
  return result.rows[0] ?? null
}

/**
 * @internal Creates or updates a schedule by name and clears its error. The stored next run time
 * is kept unless the cron expression or time zone changed (or it was unset or errored), so a
 * re-declared schedule keeps its due tick across restarts. `paused` is never changed here.
 */
export async function upsertSchedule(
  db: Executor,
  names: SchemaNames,
  write: ScheduleWrite,
): Promise<ScheduleRow & { inserted: boolean }> {
  const result = await runQuery<ScheduleRow & { inserted: boolean }>(
    db,
    `${INSERT(names)}
     ON CONFLICT (name) DO UPDATE SET
       cron = excluded.cron, timezone = excluded.timezone, task = excluded.task,
       payload = excluded.payload, queue = excluded.queue, priority = excluded.priority,
       max_attempts = excluded.max_attempts, missed = excluded.missed,
       backfill_limit = excluded.backfill_limit, source = excluded.source, error = NULL,
       updated_at = now(),
       next_run_at = CASE
         WHEN (s.cron, s.timezone) IS DISTINCT FROM (excluded.cron, excluded.timezone)
           OR s.next_run_at IS NULL OR s.error IS NOT NULL
         THEN excluded.next_run_at ELSE s.next_run_at END
     RETURNING ${COLUMNS}, (xmax = 0) AS inserted`,
    writeValues(write),
  )
  return result.rows[0]!
}

/** @internal One schedule with its last job's state, or undefined. */
export async function getSchedule(
  db: Executor,
  names: SchemaNames,
  name: string,
): Promise<ScheduleListRow | undefined> {
  return (await listSchedules(db, names, name))[0]
}

/** @internal All schedules (or the one named), by name, with their last job's state. */
export async function listSchedules(
  db: Executor,
  names: SchemaNames,
  name?: string,
): Promise<ScheduleListRow[]> {
  const result = await runQuery<ScheduleListRow>(
    db,
    `SELECT ${COLUMNS}, j.state AS last_job_state
     FROM ${names.schedules} s
     LEFT JOIN ${names.jobs} j ON j.id = s.last_job_id
     WHERE $1::text IS NULL OR s.name = $1
     ORDER BY s.name`,
    [name ?? null],
  )
  return result.rows
}

/** @internal Deletes a schedule; true when it existed. Its jobs are kept. */
export async function deleteSchedule(db: Executor, names: SchemaNames, name: string): Promise<boolean> {
  const result = await runQuery(db, `DELETE FROM ${names.schedules} WHERE name = $1`, [name])
  return result.rowCount > 0
}

/** @internal Deletes code-declared schedules whose names are not in `keep`; returns their names. */
export async function deleteCodeSchedulesExcept(
  db: Executor,
  names: SchemaNames,
  keep: string[],
): Promise<string[]> {
  const result = await runQuery<{ name: string }>(
    db,
    `DELETE FROM ${names.schedules} WHERE source = 'code' AND NOT (name = ANY($1::text[])) RETURNING name`,
    [keep],
  )
  return result.rows.map((row) => row.name)
}

/**
 * @internal Pauses or resumes a schedule; true when it exists. Resuming also clears an error, and
 * (by the table's trigger) the next run time, so ticks that passed while paused are not caught up.
 */
export async function setSchedulePaused(
  db: Executor,
  names: SchemaNames,
  name: string,
  paused: boolean,
): Promise<boolean> {
  const result = await runQuery(
    db,
    `UPDATE ${names.schedules}
     SET paused = $2, error = CASE WHEN $2 THEN error END, updated_at = now()
     WHERE name = $1`,
    [name, paused],
  )
  return result.rowCount > 0
}

/**
 * @internal Enqueues one job of a schedule now (a manual trigger, `meta.trigger = "manual"`),
 * through `enqueue_many`, and records it as the schedule's last job. Null when there is no such
 * schedule. The schedule's ticks are not affected. A null queue, priority or max_attempts is left
 * out of the job (jsonb_strip_nulls), so `enqueue_many` takes it from the task registry.
 */
export async function triggerSchedule(
  db: Executor,
  names: SchemaNames,
  name: string,
): Promise<string | null> {
  const result = await runQuery<{ id: string }>(
    db,
    `WITH s AS (SELECT * FROM ${names.schedules} WHERE name = $1),
     e AS (
       SELECT e.id FROM s CROSS JOIN LATERAL ${names.enqueueMany}(jsonb_build_array(jsonb_strip_nulls(
         jsonb_build_object('task', s.task, 'queue', s.queue, 'priority', s.priority,
           'max_attempts', s.max_attempts, 'schedule_name', s.name,
           'meta', jsonb_build_object('trigger', 'manual'))) || jsonb_build_object('payload', s.payload))) e
     )
     UPDATE ${names.schedules} AS t SET last_job_id = e.id FROM e WHERE t.name = $1
     RETURNING e.id::text AS id`,
    [name],
  )
  return result.rows[0]?.id ?? null
}
