import type { JobErrorRecord } from '../errors.js'

/**
 * The states a job goes through: `available` → `running` → `succeeded` | `failed` | `cancelled`.
 * A workflow node that waits on its parents starts `blocked` (never claimed) and becomes
 * `available` when they are done (docs/workflows.md). A waiting job whose deadline (`expires_at`)
 * passes before it starts ends `expired` instead of running (docs/flow-control.md).
 *
 * ```ts
 * const state: JobState = (await pgq.jobs.get(id))?.state ?? 'available'
 * ```
 */
export type JobState = 'blocked' | 'available' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired'

/**
 * All job states, in lifecycle order.
 *
 * ```ts
 * if (!JOB_STATES.includes(input as JobState)) throw new Error(`unknown state ${input}`)
 * ```
 */
export const JOB_STATES: readonly JobState[] = Object.freeze([
  'blocked',
  'available',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
])

/**
 * The states a job never leaves (except by an explicit retry).
 *
 * ```ts
 * const done = FINAL_STATES.includes(job.state)
 * ```
 */
export const FINAL_STATES: readonly JobState[] = Object.freeze([
  'succeeded',
  'failed',
  'cancelled',
  'expired',
])

/**
 * One entry of a job's error history: one failed attempt (`attempt`, `at`, `message`, `stack`).
 *
 * ```ts
 * const last: JobErrorEntry | undefined = job.errors.at(-1)
 * ```
 */
export type JobErrorEntry = JobErrorRecord

/**
 * A job as listed: everything but its payload, result and metadata (which may be large), with the
 * message of its last error.
 *
 * ```ts
 * const [newest] = await pgq.jobs.list({ state: 'failed', limit: 1 })
 * console.log(newest?.id, newest?.lastError)
 * ```
 */
export interface JobSummary {
  /** Decimal string of the PostgreSQL `bigint` id. */
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly state: JobState
  readonly priority: number
  readonly attempts: number
  readonly maxAttempts: number
  readonly interruptions: number
  readonly dedupKey: string | null
  readonly runAt: Date
  readonly createdAt: Date
  readonly startedAt: Date | null
  readonly finishedAt: Date | null
  readonly deleteAfter: Date | null
  readonly cancelRequestedAt: Date | null
  /** The worker holding the job while it runs. */
  readonly lockedBy: string | null
  readonly leaseExpiresAt: Date | null
  /** The last value the handler reported with `ctx.progress()`, as stored by the worker. */
  readonly progress: unknown
  readonly lastError: string | null
  readonly scheduleName: string | null
}

/**
 * A job with everything: payload, result, progress and the full error history.
 *
 * ```ts
 * const job = await pgq.jobs.get('42')
 * if (job?.state === 'failed') console.log(job.errors.map((e) => e.message))
 * ```
 */
export interface Job extends JobSummary {
  readonly payload: unknown
  /** The handler's return value once the job succeeded (null before). */
  readonly result: unknown
  readonly errors: readonly JobErrorEntry[]
  readonly maxInterruptions: number
  readonly scheduledFor: Date | null
  readonly meta: unknown
  /**
   * The durable steps done so far (`ctx.step` results, `ctx.sleep` wake-ups) keyed by step name,
   * as stored on the job (docs/workflows.md, "Durable steps"); null when the handler used none.
   */
  readonly steps: unknown
  /** The workflow this job is a node of (docs/workflows.md); null for a plain job. */
  readonly workflowId: string | null
  /** The worker that ran the latest attempt to its end (`pgq.workers` id), kept once the job finished; null when none did. */
  readonly lastWorker: string | null
}

/** @internal A row as `sql/admin-queries.ts` selects it (snake_case, ids as text). */
export interface JobSummaryRow {
  id: string
  task: string
  queue: string
  state: JobState
  priority: number
  attempts: number
  max_attempts: number
  interruptions: number
  dedup_key: string | null
  run_at: Date
  created_at: Date
  started_at: Date | null
  finished_at: Date | null
  delete_after: Date | null
  cancel_requested_at: Date | null
  locked_by: string | null
  lease_expires_at: Date | null
  progress: unknown
  last_error: string | null
  schedule_name: string | null
}

/** @internal */
export interface JobRow extends JobSummaryRow {
  payload: unknown
  result: unknown
  errors: JobErrorEntry[]
  max_interruptions: number
  scheduled_for: Date | null
  meta: unknown
  steps: unknown
  workflow_id: string | null
  last_worker: string | null
}

/** @internal */
export function toJobSummary(row: JobSummaryRow): JobSummary {
  return Object.freeze({
    id: row.id,
    task: row.task,
    queue: row.queue,
    state: row.state,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    interruptions: row.interruptions,
    dedupKey: row.dedup_key,
    runAt: row.run_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    deleteAfter: row.delete_after,
    cancelRequestedAt: row.cancel_requested_at,
    lockedBy: row.locked_by,
    leaseExpiresAt: row.lease_expires_at,
    progress: row.progress,
    lastError: row.last_error,
    scheduleName: row.schedule_name,
  })
}

/** @internal */
export function toJob(row: JobRow): Job {
  return Object.freeze({
    ...toJobSummary(row),
    payload: row.payload,
    result: row.result,
    errors: Object.freeze([...(row.errors ?? [])]),
    maxInterruptions: row.max_interruptions,
    scheduledFor: row.scheduled_for,
    meta: row.meta,
    steps: row.steps ?? null,
    workflowId: row.workflow_id ?? null,
    lastWorker: row.last_worker ?? null,
  })
}
