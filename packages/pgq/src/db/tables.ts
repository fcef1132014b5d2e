// The row types of pgq's schema (migrations/*.sql) for Kysely, as node-postgres returns them:
// bigint → decimal string, timestamptz → Date, jsonb → parsed JSON, interval → an object of parts.
// Columns the database fills are Generated (optional on insert); views are read-only.
import type { ColumnType, Generated, GeneratedAlways } from 'kysely'
import type { JobErrorEntry, JobState } from '../admin/job-record.js'
import type { MissedPolicy } from '../schedule/fire-plan.js'
import type { JsonValue } from '../task/payload.js'

/** A `timestamptz`: read as a `Date`, written as a `Date` or an ISO 8601 string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>

/** A `jsonb` column: read as parsed JSON, written as JSON text (node-postgres sends JS arrays as SQL arrays). */
export type Json<T = JsonValue> = ColumnType<T, string, string>

/** An `interval` as node-postgres parses it (only the non-zero parts are present). */
export interface IntervalValue {
  readonly years?: number
  readonly months?: number
  readonly days?: number
  readonly hours?: number
  readonly minutes?: number
  readonly seconds?: number
  readonly milliseconds?: number
}

/** A column of a view: read-only. */
type ViewColumns<T> = { readonly [K in keyof T]: ColumnType<T[K], never, never> }

/** `<schema>.jobs`: one row per job for its whole life. Enqueue with `pgq.enqueue` or `enqueue_many()`, not by INSERT. */
export interface JobsTable {
  id: GeneratedAlways<string>
  queue: Generated<string>
  task: string
  payload: Generated<Json>
  state: Generated<JobState>
  priority: Generated<number>
  run_at: ColumnType<Date, Date | string | undefined, Date | string>
  attempts: Generated<number>
  max_attempts: Generated<number>
  interruptions: Generated<number>
  max_interruptions: Generated<number>
  locked_by: string | null
  lease_token: string | null
  lease_expires_at: Timestamp | null
  started_at: Timestamp | null
  cancel_requested_at: Timestamp | null
  result: Json | null
  progress: Json | null
  errors: Generated<Json<JobErrorEntry[]>>
  dedup_key: string | null
  schedule_name: string | null
  scheduled_for: Timestamp | null
  meta: Generated<Json>
  created_at: ColumnType<Date, Date | string | undefined, Date | string>
  finished_at: Timestamp | null
  delete_after: Timestamp | null
  /** A newer payload for this dedup key, enqueued while this job ran (`dedupMode: 'debounce'`…). */
  followup: Json | null
  /** The workflow this job is a node of (bigint, as text); null for plain jobs (docs/workflows.md). */
  workflow_id: string | null
  /** Durable steps (`ctx.step`, `ctx.sleep`) done so far, keyed by step name; NULL when none (migration 0010). */
  steps: Json | null
  /** The worker that ran the latest attempt to its end, kept after the job leaves `running` (migration 0011). */
  last_worker: string | null
  /** The job's concurrency key within its queue, for per-key limits (migration 0014). */
  concurrency_key: string | null
  /** The job must start by then, else it ends `expired` (migration 0014). */
  expires_at: Timestamp | null
}

/** `<schema>.tasks`: the task registry — the defaults every enqueue path applies, upserted by workers. */
export interface TasksTable {
  name: string
  queue: string
  priority: Generated<number>
  max_attempts: Generated<number>
  backoff: Generated<Json>
  timeout_ms: number | null
  hard_timeout_grace_ms: number | null
  dead_letter_queue: string | null
  payload_schema: Json | null
  validates_payload: Generated<boolean>
  /** Payload field path of the task's concurrency key, applied by `enqueue_many()` (migration 0014). */
  concurrency_key_path: string | null
  /** Default deadline of the task's jobs: ms after they become due (migration 0014). */
  expire_in_ms: number | null
  first_seen_at: ColumnType<Date, Date | string | undefined, Date | string>
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>
  last_seen_by: string | null
  last_seen_hostname: string | null
}

/** `<schema>.dedup_windows`: throttle windows, until when a (task, dedup key) is throttled. */
export interface DedupWindowsTable {
  task: string
  dedup_key: string
  until: Timestamp
  job_id: string | null
}

/** `<schema>.workflows`: one row per workflow (docs/workflows.md). */
export interface WorkflowsTable {
  /** bigint, as text */
  id: Generated<string>
  name: string | null
  policy: Generated<'cancel' | 'continue'>
  output_ids: Generated<string[]>
  output_list: Generated<boolean>
  node_ids: Generated<string[]>
  created_at: Generated<Date>
  cancelled_at: Timestamp | null
}

/** `<schema>.workflow_nodes`: nodes that wait on parents, with the fan-in counter. */
export interface WorkflowNodesTable {
  job_id: string
  workflow_id: string
  pending: number
  failed: Generated<number>
  input: 'value' | 'list'
}

/** `<schema>.job_dependencies`: workflow edges (job_id runs after parent_id). */
export interface JobDependenciesTable {
  parent_id: string
  job_id: string
  position: number
}

/** `<schema>.workflow_jobs`: every workflow node with its workflow, state and parents. */
export interface WorkflowJobsView {
  workflow_id: string
  job_id: string
  task: string
  queue: string
  state: JobState
  attempts: number
  parent_ids: string[]
  pending_parents: number | null
  created_at: Date
  started_at: Date | null
  finished_at: Date | null
}

/**
 * `<schema>.workers`: one row per worker process, refreshed by its heartbeat; kept for a day after
 * the worker stopped or was lost (migration 0008). Read liveness from {@link WorkerStatusView}.
 */
export interface WorkersTable {
  id: string
  hostname: string
  pid: number
  queues: string[]
  concurrency: number
  meta: Generated<Json>
  started_at: ColumnType<Date, Date | string | undefined, Date | string>
  heartbeat_at: ColumnType<Date, Date | string | undefined, Date | string>
  /** When the worker left (graceful stop, or its last heartbeat once found lost); null while it runs. */
  stopped_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  stop_reason: ColumnType<'stopped' | 'lost' | null, 'stopped' | 'lost' | null | undefined>
  /** The worker's heartbeat interval (null for rows written before migration 0008). */
  heartbeat_ms: ColumnType<number | null, number | null | undefined>
}

/** `<schema>.schedules`: periodic schedules, code-first (`source = 'code'`) or table-first. */
export interface SchedulesTable {
  name: string
  cron: string
  timezone: Generated<string>
  task: string
  payload: Generated<Json>
  /** Null: the task's registered queue at enqueue, else `default` (migration 0007). */
  queue: string | null
  /** Null: the task's registered priority at enqueue, else 0 (migration 0007). */
  priority: number | null
  max_attempts: number | null
  missed: Generated<MissedPolicy>
  backfill_limit: Generated<number>
  paused: Generated<boolean>
  source: Generated<'code' | 'table'>
  next_run_at: Timestamp | null
  last_run_at: Timestamp | null
  last_job_id: ColumnType<string | null, string | null | undefined, string | null>
  error: string | null
  created_at: ColumnType<Date, Date | string | undefined, Date | string>
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

/** `<schema>.queues`: flow-control settings per queue (migration 0012, docs/flow-control.md). */
export interface QueuesTable {
  name: string
  paused: Generated<boolean>
  /** Most jobs of the queue running at once across all workers; null: no limit. */
  concurrency: number | null
  /** Rate limit: at most `rate_limit` jobs start per `rate_interval_ms` (both null: none). */
  rate_limit: number | null
  rate_interval_ms: number | null
  /** The token bucket's state, written by the limited claim. */
  tokens: number | null
  tokens_at: Timestamp | null
  /** Generated by the database: the row limits something (claims go through `claim_limited()`). */
  limited: ColumnType<boolean, never, never>
  /** Most running jobs per concurrency key; null: no per-key limit (migration 0014). */
  key_concurrency: number | null
  /** With key_concurrency 1: each key's jobs start in enqueue order. */
  ordered: Generated<boolean>
  /** Where the last keyed claim's round stopped (round-robin over keys). */
  key_cursor: string | null
  /** Rate limit per key: at most `key_rate_limit` jobs of one key start per `key_rate_interval_ms`. */
  key_rate_limit: number | null
  key_rate_interval_ms: number | null
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

/** `<schema>.queue_key_buckets`: per-key rate-limit buckets (migration 0014); no row: a full bucket. */
export interface QueueKeyBucketsTable {
  queue: string
  key: string
  tokens: number
  tokens_at: Timestamp
}

/** `<schema>.migrations`: the migrations applied to the schema. */
export interface MigrationsTable {
  version: number
  name: string
  applied_at: ColumnType<Date, Date | string | undefined, Date | string>
}

/** `<schema>.job_counts`: jobs per queue and state (`available` split into `waiting` and `scheduled`). */
export type JobCountsView = ViewColumns<{
  queue: string
  state: JobState | 'waiting' | 'scheduled'
  jobs: string
}>

/** `<schema>.queue_lag`: per queue, due jobs waiting and how long the oldest has waited. */
export type QueueLagView = ViewColumns<{
  queue: string
  waiting: string
  scheduled: string
  oldest_waiting_since: Date | null
  lag: IntervalValue
}>

/** `<schema>.failing_tasks`: tasks with failed jobs or retries pending, with the latest error message. */
export type FailingTasksView = ViewColumns<{
  task: string
  failed: string
  retrying: string
  last_failed_at: Date | null
  last_error: string | null
}>

/** `<schema>.unknown_tasks`: waiting jobs per (task, queue) whose task no worker has registered. */
export type UnknownTasksView = ViewColumns<{
  task: string
  queue: string
  waiting: string
  oldest_created_at: Date
}>

/** `<schema>.running_jobs`: running jobs with their lease, progress and worker. */
export type RunningJobsView = ViewColumns<{
  id: string
  task: string
  queue: string
  attempts: number
  max_attempts: number
  started_at: Date
  running_for: IntervalValue
  lease_expires_at: Date
  lease_remaining: IntervalValue
  cancel_requested_at: Date | null
  progress: JsonValue | null
  worker_id: string
  worker_hostname: string | null
  worker_pid: number | null
  worker_heartbeat_at: Date | null
}>

/** `<schema>.queue_status`: per queue, its flow-control settings and its running and waiting jobs. */
export type QueueStatusView = ViewColumns<{
  queue: string
  paused: boolean
  concurrency: number | null
  rate_limit: number | null
  rate_interval_ms: number | null
  /** bigint, as text */
  running: string
  /** bigint, as text */
  waiting: string
  key_concurrency: number | null
  ordered: boolean
  key_rate_limit: number | null
  key_rate_interval_ms: number | null
}>

/** `<schema>.worker_status`: every worker row with its status and the jobs it runs now. */
export type WorkerStatusView = ViewColumns<{
  id: string
  hostname: string
  pid: number
  queues: string[]
  concurrency: number
  started_at: Date
  heartbeat_at: Date
  stopped_at: Date | null
  /** alive: not stopped and a heartbeat within 3 intervals (at least 15 s); else stopped or lost. */
  status: 'alive' | 'stopped' | 'lost'
  /** bigint, as text */
  running_jobs: string
}>

/**
 * pgq's tables and views by their bare names, for a Kysely scoped to pgq's schema.
 *
 * ```ts
 * const pgqDb = new Kysely<PgqTables>({ dialect }).withSchema('pgq')
 * const failed = await pgqDb.selectFrom('jobs').select(['id', 'task']).where('state', '=', 'failed').execute()
 * ```
 */
export interface PgqTables {
  jobs: JobsTable
  workers: WorkersTable
  schedules: SchedulesTable
  migrations: MigrationsTable
  tasks: TasksTable
  dedup_windows: DedupWindowsTable
  job_counts: JobCountsView
  queue_lag: QueueLagView
  failing_tasks: FailingTasksView
  running_jobs: RunningJobsView
  unknown_tasks: UnknownTasksView
  worker_status: WorkerStatusView
  workflows: WorkflowsTable
  workflow_nodes: WorkflowNodesTable
  job_dependencies: JobDependenciesTable
  workflow_jobs: WorkflowJobsView
  queues: QueuesTable
  queue_status: QueueStatusView
  queue_key_buckets: QueueKeyBucketsTable
}

/**
 * pgq's tables and views qualified with their schema (`'pgq.jobs'`, …), to merge into your own
 * Kysely database interface. Pass the schema name when it is not `pgq`.
 *
 * ```ts
 * const db = new Kysely<AppDatabase & PgqDatabase>({ dialect })
 * const stuck = await db
 *   .selectFrom('pgq.jobs')
 *   .innerJoin('orders', 'orders.job_id', 'pgq.jobs.id')
 *   .select(['pgq.jobs.id', 'pgq.jobs.state', 'orders.total'])
 *   .where('pgq.jobs.state', '=', 'failed')
 *   .execute()
 * ```
 */
export type PgqDatabase<Schema extends string = 'pgq'> = {
  [Table in keyof PgqTables as `${Schema}.${Table}`]: PgqTables[Table]
}
