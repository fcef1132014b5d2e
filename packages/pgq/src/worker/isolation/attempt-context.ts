import type pg from 'pg'
import type { JsonValue } from '../../task/payload.js'
import type { TaskContext } from '../../task/task.js'
import type { WorkerEvents } from '../events.js'
import type { JobTransaction } from '../job-transaction.js'
import type { ProgressReporter } from '../progress-reporter.js'
import type { RunningJob } from '../running-job.js'
import type { StepJournal } from '../step-journal.js'
import { AttemptEndedError } from './errors.js'

/**
 * @internal The context one attempt's handler gets, and the fence that closes it: once the
 * attempt has ended (outcome taken, hard limit passed, lease lost, `ctx.sleep` reached),
 * `ctx.progress` and `ctx.step` write nothing and reject with {@link AttemptEndedError}: a handler
 * that outlives its attempt cannot write anything pgq owns.
 */
export class AttemptContext {
  readonly context: TaskContext
  readonly #makeSteps: (assertOpen: (action: string) => void) => StepJournal
  readonly #assertOpen: (action: string) => void
  /** Made on first use of `ctx.step` or `ctx.sleep`: most handlers use neither. */
  #steps: StepJournal | undefined
  readonly #makeTransaction: (assertOpen: (action: string) => void) => JobTransaction
  /** Made on first use of `ctx.transaction`. */
  #tx: JobTransaction | undefined
  #ended = false

  constructor(
    job: RunningJob,
    progress: ProgressReporter,
    events: WorkerEvents,
    makeSteps: (assertOpen: (action: string) => void) => StepJournal,
    makeTransaction: (assertOpen: (action: string) => void) => JobTransaction,
  ) {
    const { id, task, queue, attempt, maxAttempts } = job.claim
    this.#makeSteps = makeSteps
    this.#assertOpen = (action: string) => {
      const dropped = job.abortReason === 'lease-lost' || job.abortReason === 'shutdown'
      if (this.#ended || dropped || job.committed || this.#steps?.sleepMs !== undefined)
        throw new AttemptEndedError(id, attempt, action)
    }
    this.#makeTransaction = makeTransaction
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
        if (this.#ended || dropped || job.committed) {
          return Promise.reject(new AttemptEndedError(id, attempt, 'ctx.progress()'))
        }
        const written = progress.report(value, meta)
        if (typeof value === 'number' || value === null) events.emit('job:progress', { job: job.info, value })
        return written
      },
      step: <T>(name: string, fn: () => Promise<T> | T) => this.#journal().step(name, fn),
      sleep: (duration: number | string) => this.#journal().sleep(duration),
      transaction: <T>(fn: (tx: pg.PoolClient) => Promise<T> | T) => this.#transaction().run(fn),
    })
  }

  /** Set once the handler reached a `ctx.sleep` that ends the attempt: the delay before it runs again. */
  get sleepMs(): number | undefined {
    return this.#steps?.sleepMs
  }

  #transaction(): JobTransaction {
    this.#tx ??= this.#makeTransaction(this.#assertOpen)
    return this.#tx
  }

  #journal(): StepJournal {
    this.#steps ??= this.#makeSteps(this.#assertOpen)
    return this.#steps
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Closes the context: every later use is refused. */
  end(): void {
    this.#ended = true
  }
}
