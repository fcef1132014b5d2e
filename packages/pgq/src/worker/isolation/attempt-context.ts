import type { JsonValue } from '../../task/payload.js'
import type { TaskContext } from '../../task/task.js'
import type { WorkerEvents } from '../events.js'
import type { ProgressReporter } from '../progress-reporter.js'
import type { RunningJob } from '../running-job.js'
import { AttemptEndedError } from './errors.js'

/**
 * @internal The context one attempt's handler gets, and the fence that closes it: once the
 * attempt has ended (outcome taken, hard limit passed, lease lost), `ctx.progress` writes nothing
 * and rejects with {@link AttemptEndedError}: a handler that outlives its attempt cannot write
 * anything pgq owns.
 */
export class AttemptContext {
  readonly context: TaskContext
  #ended = false

  constructor(job: RunningJob, progress: ProgressReporter, events: WorkerEvents) {
    const { id, task, queue, attempt, maxAttempts } = job.claim
    this.context = Object.freeze({
      jobId: id,
      task,
      queue,
      attempt,
      maxAttempts,
      signal: job.controller.signal,
      progress: (value: number | null, meta?: JsonValue) => {
        // lost its lease or released on shutdown: the attempt is over for pgq too
        const dropped = job.abortReason === 'lease-lost' || job.abortReason === 'shutdown'
        if (this.#ended || dropped) {
          return Promise.reject(new AttemptEndedError(id, attempt, 'ctx.progress()'))
        }
        const written = progress.report(value, meta)
        if (typeof value === 'number' || value === null) events.emit('job:progress', { job: job.info, value })
        return written
      },
    })
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Closes the context: every later use is refused. */
  end(): void {
    this.#ended = true
  }
}
