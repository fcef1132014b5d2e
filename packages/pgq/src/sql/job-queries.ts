import type { EnqueueOutcome } from '../client/enqueue.js'
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
