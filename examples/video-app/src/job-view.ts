// What GET /jobs/:id shows of a job: its state and outcome, never its payload.
import type { Job } from '@pgq/core'

/** The JSON body of `GET /jobs/:id`. */
export interface JobView {
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly state: Job['state']
  readonly attempts: number
  readonly maxAttempts: number
  /** The last `ctx.progress()` value the handler reported. */
  readonly progress: unknown
  /** The handler's return value, once succeeded. */
  readonly result: unknown
  /** The last error message (a retry may still be coming while `state` is `available`). */
  readonly error: string | null
  readonly createdAt: Date
  readonly startedAt: Date | null
  readonly finishedAt: Date | null
  /** When a waiting job runs next (e.g. after a retry's backoff). */
  readonly runAt: Date
}

/**
 * Picks the public fields of a job.
 *
 * ```ts
 * const job = await pgq.jobs.get(id)
 * if (job) reply.send(jobView(job))
 * ```
 */
export function jobView(job: Job): JobView {
  return {
    id: job.id,
    task: job.task,
    queue: job.queue,
    state: job.state,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    progress: job.progress,
    result: job.result,
    error: job.lastError,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    runAt: job.runAt,
  }
}
