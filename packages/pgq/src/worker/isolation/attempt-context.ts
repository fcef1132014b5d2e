import type pg from 'pg'
import type { SchemaNames } from '../../db/schema-names.js'
import type { JsonValue } from '../../task/payload.js'
import { parseResultForRun } from '../../task/payload-validation.js'
import type { AnyTaskDefinition, TaskContext } from '../../task/task.js'
import type { WorkerEvents } from '../events.js'
import { JobTransaction } from '../job-transaction.js'
import { ProgressReporter } from '../progress-reporter.js'
import type { RunningJob } from '../running-job.js'
import { StepJournal } from '../step-journal.js'
import { AttemptEndedError } from './errors.js'

/** @internal What every attempt's context needs from its worker: one object shared by all attempts. */
export interface AttemptServices {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly events: WorkerEvents
  readonly maxPayloadBytes: number
  readonly maxErrorsKept: number
  readonly onProgressError: (error: unknown) => void
}

/**
 * @internal The context one attempt's handler gets, and the fence that closes it: once the
 * attempt has ended (outcome taken, hard limit passed, lease lost, `ctx.sleep` reached),
 * `ctx.progress` and `ctx.step` write nothing and reject with {@link AttemptEndedError}: a handler
 * that outlives its attempt cannot write anything pgq owns. The progress reporter, step journal
 * and transaction are made on first use: most handlers use none of them, and a worker running
 * thousands of short jobs a second should not allocate them for each.
 *
 * ```ts
 * const attempt = new AttemptContext(job, task, services, succeededRetentionMs)
 * await handler(payload, attempt.context)
 * attempt.end()
 * ```
 */
export class AttemptContext {
  readonly context: TaskContext
  readonly #job: RunningJob
  readonly #task: AnyTaskDefinition
  readonly #services: AttemptServices
  /** Retention of the succeeded row when `ctx.transaction` commits it. */
  readonly #retentionMs: number | null
  #progress: ProgressReporter | undefined
  #steps: StepJournal | undefined
  #tx: JobTransaction | undefined
  #ended = false
  readonly #assertOpen = (action: string): void => {
    const job = this.#job
    if (this.#ended || job.dropped || job.committed || this.#steps?.sleepMs !== undefined)
      throw new AttemptEndedError(job.claim.id, job.claim.attempt, action)
  }

  constructor(
    job: RunningJob,
    task: AnyTaskDefinition,
    services: AttemptServices,
    retentionMs: number | null,
  ) {
    this.#job = job
    this.#task = task
    this.#services = services
    this.#retentionMs = retentionMs
    const { id, task: name, queue, attempt, maxAttempts } = job.claim
    this.context = Object.freeze({
      jobId: id,
      task: name,
      queue,
      attempt,
      maxAttempts,
      get signal() {
        return job.signal
      },
      progress: (value: number | null, meta?: JsonValue) => this.#reportProgress(value, meta),
      step: <T>(stepName: string, fn: () => Promise<T> | T) => this.#journal().step(stepName, fn),
      sleep: (duration: number | string) => this.#journal().sleep(duration),
      transaction: <T>(fn: (tx: pg.PoolClient) => Promise<T> | T) => this.#transaction().run(fn),
    })
  }

  /** Set once the handler reached a `ctx.sleep` that ends the attempt: the delay before it runs again. */
  get sleepMs(): number | undefined {
    return this.#steps?.sleepMs
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Closes the context: every later use is refused. */
  end(): void {
    this.#ended = true
  }

  /** Writes the last progress reported and not yet written; undefined when there is nothing to wait for. */
  flushProgress(): Promise<void> | undefined {
    return this.#progress?.flush()
  }

  #reportProgress(value: number | null, meta?: JsonValue): Promise<void> {
    const job = this.#job
    // lost its lease or released on shutdown: the attempt is over for pgq too
    if (this.#ended || job.dropped || job.committed) {
      return Promise.reject(new AttemptEndedError(job.claim.id, job.claim.attempt, 'ctx.progress()'))
    }
    const { pool, names, events, onProgressError } = this.#services
    this.#progress ??= new ProgressReporter(pool, names, job, onProgressError)
    const written = this.#progress.report(value, meta)
    if (typeof value === 'number' || value === null) events.emit('job:progress', { job: job.info, value })
    return written
  }

  #journal(): StepJournal {
    const { pool, names, maxPayloadBytes } = this.#services
    this.#steps ??= new StepJournal(pool, names, this.#job, maxPayloadBytes, this.#assertOpen)
    return this.#steps
  }

  #transaction(): JobTransaction {
    if (!this.#tx) {
      const { pool, names, maxErrorsKept, maxPayloadBytes } = this.#services
      const schema = this.#task.resultSchema
      this.#tx = new JobTransaction({
        ...{ pool, names, job: this.#job, maxErrorsKept, maxPayloadBytes },
        retentionMs: this.#retentionMs,
        parseResult: schema && ((value) => parseResultForRun(schema, value)),
        assertOpen: this.#assertOpen,
      })
    }
    return this.#tx
  }
}
