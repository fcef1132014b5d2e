import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { releaseJobs } from '../sql/lease-queries.js'
import type { WorkerEvents } from './events.js'
import type { RunningJob } from './running-job.js'

/**
 * @internal Gives jobs a stopping worker dropped back to the queue without charging an attempt
 * (jobs claimed ahead and never started, and running ones past the grace period), so another
 * worker takes them at once; `job:released` for each one the database took back. A job whose
 * lease is already gone is not touched (the lease token fences it). Never throws: when the write
 * fails, the leases expire and the rescuer requeues the jobs.
 *
 * ```ts
 * await releaseDropped(pool, names, dropped, worker, (error) => worker.reportError('shutdown', error))
 * ```
 */
export async function releaseDropped(
  pool: pg.Pool,
  names: SchemaNames,
  jobs: readonly RunningJob[],
  events: WorkerEvents,
  onError: (error: unknown) => void,
): Promise<void> {
  if (jobs.length === 0) return
  try {
    const released = new Set(
      await releaseJobs(pool, names, {
        ids: jobs.map((j) => j.claim.id),
        tokens: jobs.map((j) => j.claim.leaseToken),
      }),
    )
    for (const job of jobs) if (released.has(job.claim.id)) events.emit('job:released', { job: job.info })
  } catch (error) {
    onError(error)
  }
}
