import type { DedupMode, EnqueueOutcome } from '../client/enqueue.js'
import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

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
