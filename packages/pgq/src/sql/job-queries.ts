import type { DedupMode, EnqueueOutcome } from '../client/enqueue.js'
import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { statementName } from './statement-parts.js'

/** @internal One row of `enqueue_many`: the input position (1-based), the job id, whether no job was created, and why. */
export interface EnqueuedRow {
  ord: number
  id: string
  deduplicated: boolean
  outcome: EnqueueOutcome
}

/**
 * @internal One job object of `enqueue_many`'s JSON array (docs/sql-enqueue.md), without its payload.
 * Absent fields take the function's defaults.
 */
export interface EnqueueManyJob {
  readonly task: string
  readonly queue?: string
  readonly priority?: number
  /** ISO 8601. */
  readonly run_at?: string
  readonly delay_ms?: number
  readonly max_attempts?: number
  readonly dedup_key?: string
  readonly dedup_mode?: DedupMode
  readonly dedup_window_ms?: number
  readonly meta?: Readonly<Record<string, unknown>>
  readonly schedule_name?: string
  /** ISO 8601. */
  readonly scheduled_for?: string
  readonly concurrency_key?: string
  /** Deadline to start: due time + this many ms. */
  readonly expire_in_ms?: number
  /** ISO 8601 deadline to start. */
  readonly expires_at?: string
}

/**
 * @internal The one encoder of `enqueue_many` jobs: the JSON object text of `job` with `payloadJson`
 * (JSON text already validated, or read back from the database) spliced in, so a payload is never
 * parsed and serialized again.
 */
export function encodeEnqueueJob(job: EnqueueManyJob, payloadJson: string): string {
  return `${JSON.stringify(job).slice(0, -1)},"payload":${payloadJson}}`
}

/** @internal The JSON array text of encoded jobs, for {@link enqueueJobs}. */
export function enqueueJobsJson(encoded: readonly string[]): string {
  return `[${encoded.join(',')}]`
}

/**
 * @internal Enqueues jobs through the schema's `enqueue_many()` function; `jobsJson` is a JSON array
 * of job objects (see docs/sql-enqueue.md). Runs on the caller's executor, so it joins its transaction.
 */
export async function enqueueJobs(
  db: Executor,
  names: SchemaNames,
  jobsJson: string,
): Promise<EnqueuedRow[]> {
  const result = await runQuery<EnqueuedRow>(
    db,
    `SELECT ord, id::text AS id, deduplicated, outcome FROM ${names.enqueueMany}($1::jsonb) ORDER BY ord`,
    [jobsJson],
  )
  return result.rows
}

/**
 * The concurrency key the registered task (`t`) takes from a payload: the field at its
 * `concurrency_key_path` when it is a string, number or boolean, as text; else NULL. The same rule
 * as `enqueue_many()` (migration 0014) and `keyFromPayload` in TypeScript.
 */
function keyFromTaskPath(payload: string): string {
  const path = `string_to_array(t.concurrency_key_path, '.')`
  return `CASE WHEN t.concurrency_key_path IS NOT NULL
            AND jsonb_typeof(${payload} #> ${path}) IN ('string', 'number', 'boolean')
          THEN nullif(left(${payload} #>> ${path}, 512), '') END`
}

/** @internal A job for {@link insertJobsDirectly}: its fields and its payload's JSON text. */
export interface DirectJob {
  readonly job: EnqueueManyJob
  readonly payloadJson: string
}

/**
 * One typed array per column; an empty array when no job sets the column (`unnest` of several
 * arrays pads the shorter ones with NULLs), so a batch that only names task and payload sends two.
 */
function column<T>(jobs: readonly DirectJob[], pick: (job: EnqueueManyJob) => T | undefined): (T | null)[] {
  let any = false
  const values = jobs.map(({ job }) => {
    const value = pick(job)
    if (value === undefined) return null
    any = true
    return value
  })
  return any ? values : []
}

/**
 * @internal Enqueues jobs without dedup keys in one plain statement (no function call), with the
 * same rows `enqueue_many()` gives them (the parity test in enqueue-direct.test.ts holds them
 * together): values left out take the registered task's defaults (queue, priority, attempts,
 * concurrency key path, expiry), then the global ones; one NOTIFY per queue. The jobs travel as
 * typed arrays, one per column, through `unnest`: measured at 1.15-1.2x the same statement fed a
 * JSON array (no JSON parse of the batch). Names were validated by the caller. Returns the ids in
 * input order. A lone job takes {@link insertOneJob}.
 */
export async function insertJobsDirectly(
  db: Executor,
  names: SchemaNames,
  jobs: readonly DirectJob[],
): Promise<string[]> {
  const result = await runQuery<{ id: string }>(
    db,
    `WITH input AS MATERIALIZED (
       -- ids drawn over rows already in input order, so a batch's ids follow it (FIFO within it)
       SELECT x.*, nextval('${names.quoted}.jobs_id_seq') AS new_id
       FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::smallint[], $5::timestamptz[], $6::float8[],
                   $7::smallint[], $8::text[], $9::float8[], $10::timestamptz[], $11::jsonb[])
         WITH ORDINALITY AS x(task, payload, queue, priority, run_at, delay_ms, max_attempts, concurrency_key,
                              expire_in_ms, expires_at, meta, ord)
       ORDER BY x.ord
     ),
     p AS (
       SELECT i.new_id, i.task, i.payload,
              coalesce(i.queue, t.queue, 'default') AS queue,
              coalesce(i.priority, t.priority, 0::smallint) AS priority,
              coalesce(i.run_at, now()) + make_interval(secs => coalesce(i.delay_ms, 0) / 1000.0) AS run_at,
              coalesce(i.max_attempts, t.max_attempts, 5::smallint) AS max_attempts,
              coalesce(i.concurrency_key, ${keyFromTaskPath('i.payload')}) AS concurrency_key,
              i.expires_at, coalesce(i.expire_in_ms, t.expire_in_ms) AS expire_in_ms,
              coalesce(i.meta, '{}'::jsonb) AS meta
       FROM input i LEFT JOIN ${names.quoted}.tasks t ON t.name = i.task
     ),
     j AS (
       INSERT INTO ${names.jobs} AS j (id, task, payload, queue, priority, run_at, max_attempts, concurrency_key, expires_at, meta)
       OVERRIDING SYSTEM VALUE
       SELECT p.new_id, p.task, p.payload, p.queue, p.priority, p.run_at, p.max_attempts, p.concurrency_key,
              coalesce(p.expires_at, p.run_at + make_interval(secs => p.expire_in_ms / 1000.0)), p.meta
       FROM p
       RETURNING j.id, j.queue, j.run_at
     ),
     -- counted, not returned: a void column breaks clients that decode every column (Prisma)
     woken AS (
       SELECT count(pg_notify($12, w.queue || CASE WHEN w.first_run_at > now()
                THEN '@' || floor(extract(epoch FROM w.first_run_at) * 1000)::bigint::text ELSE '*' || w.first_id END)) AS sent
       FROM (SELECT queue, min(run_at) AS first_run_at, min(id) AS first_id FROM j GROUP BY queue) AS w
     )
     SELECT i.new_id::text AS id FROM input i, woken ORDER BY i.ord`,
    [
      jobs.map(({ job }) => job.task),
      jobs.map(({ payloadJson }) => payloadJson),
      column(jobs, (job) => job.queue),
      column(jobs, (job) => job.priority),
      column(jobs, (job) => job.run_at),
      column(jobs, (job) => job.delay_ms),
      column(jobs, (job) => job.max_attempts),
      column(jobs, (job) => job.concurrency_key),
      column(jobs, (job) => job.expire_in_ms),
      column(jobs, (job) => job.expires_at),
      column(jobs, (job) => (job.meta === undefined ? undefined : JSON.stringify(job.meta))),
      names.jobsChannel,
    ],
  )
  return result.rows.map((row) => row.id)
}

/**
 * @internal Enqueues one job without a dedup key in a single plain INSERT, with the same result as
 * `enqueue_many()` gives it (the parity test in enqueue-direct.test.ts holds them together): values left
 * out take the registered task's defaults (queue, priority, attempts, concurrency key path,
 * expiry), then the global ones; one NOTIFY for its queue. The call most web requests make: about
 * 0.3 ms less than the function, whose batch and dedup machinery a lone job does not need. Names
 * were validated by the caller. Returns the job's id.
 */
export async function insertOneJob(
  db: Executor,
  names: SchemaNames,
  job: EnqueueManyJob,
  payloadJson: string,
  prepared = false,
  notify = true,
): Promise<{ id: string; queue: string }> {
  // notify false: the caller sends the wake-up itself after the commit (client/enqueue-wakes.ts),
  // so that this commit does not hold PostgreSQL's notification lock while its WAL is flushed
  const woken = notify
    ? `,
     -- counted, not returned: a void column breaks clients that decode every column (Prisma)
     woken AS (
       SELECT count(pg_notify($12, j.queue || CASE WHEN j.run_at > now()
                THEN '@' || floor(extract(epoch FROM j.run_at) * 1000)::bigint::text ELSE '*' || j.id END)) AS sent
       FROM j
     )
     SELECT j.id::text AS id, j.queue FROM j, woken`
    : // the channel parameter stays (unused), so both statements take the same parameters
      `
     SELECT j.id::text AS id, j.queue FROM j WHERE $12::text IS NOT NULL`
  const result = await runQuery<{ id: string; queue: string }>(
    db,
    `WITH t AS (
       SELECT queue, priority, max_attempts, concurrency_key_path, expire_in_ms
       FROM ${names.quoted}.tasks WHERE name = $1
     ),
     p AS (
       SELECT coalesce($3::text, t.queue, 'default') AS queue,
              coalesce($4::smallint, t.priority, 0::smallint) AS priority,
              coalesce($5::timestamptz, now()) + make_interval(secs => coalesce($6::float8, 0) / 1000.0) AS run_at,
              coalesce($7::smallint, t.max_attempts, 5::smallint) AS max_attempts,
              coalesce($8::text, ${keyFromTaskPath('$2::jsonb')}) AS concurrency_key,
              coalesce($9::float8, t.expire_in_ms) AS expire_in_ms
       FROM (SELECT) AS one LEFT JOIN t ON true
     ),
     j AS (
       INSERT INTO ${names.jobs} (task, payload, queue, priority, run_at, max_attempts, concurrency_key, expires_at, meta)
       SELECT $1, $2::jsonb, p.queue, p.priority, p.run_at, p.max_attempts, p.concurrency_key,
              coalesce($10::timestamptz, p.run_at + make_interval(secs => p.expire_in_ms / 1000.0)),
              coalesce($11::jsonb, '{}'::jsonb)
       FROM p
       RETURNING id, queue, run_at
     )${woken}`,
    [
      job.task,
      payloadJson,
      job.queue ?? null,
      job.priority ?? null,
      job.run_at ?? null,
      job.delay_ms ?? null,
      job.max_attempts ?? null,
      job.concurrency_key ?? null,
      job.expire_in_ms ?? null,
      job.expires_at ?? null,
      job.meta === undefined ? null : JSON.stringify(job.meta),
      names.jobsChannel,
    ],
    statementName(prepared, notify ? 'enqueue_one' : 'enqueue_one_quiet', names),
  )
  return result.rows[0]!
}

/** @internal Whether {@link insertJobsDirectly} can enqueue `job` (no dedup key, nothing only the function handles). */
export function canInsertDirectly(job: EnqueueManyJob): boolean {
  return (
    job.dedup_key === undefined &&
    job.dedup_mode === undefined &&
    job.schedule_name === undefined &&
    job.scheduled_for === undefined
  )
}
