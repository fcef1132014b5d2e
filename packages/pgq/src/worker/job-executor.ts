import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import type { FinalizeItem } from '../sql/worker-queries.js'
import { isSnooze, JobAbortedError, PermanentError } from '../task/job-outcome.js'
import { serializeJson } from '../task/payload.js'
import { parsePayloadForRun } from '../task/payload-validation.js'
import type { AnyTaskDefinition, TaskContext } from '../task/task.js'
import type { WorkerEvents } from './events.js'
import { ProgressReporter } from './progress-reporter.js'
import type { RunningJob } from './running-job.js'
import type { WorkerConfig } from './worker-config.js'

/** @internal What the executor needs from its worker. */
export interface JobExecutorDeps {
  readonly config: WorkerConfig
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly events: WorkerEvents
  readonly maxPayloadBytes: number
  readonly onError: (component: string, error: unknown) => void
}

/** Default grace between a task's soft and hard time limit. */
const DEFAULT_HARD_GRACE_MS = 5_000

/**
 * @internal Runs one claimed job's handler and turns what happened into the row to write:
 * success (result), retry (backoff), failure, cancel, snooze — or nothing, when the outcome must
 * be dropped (lease lost, released on shutdown). Never throws.
 */
export class JobExecutor {
  readonly #deps: JobExecutorDeps

  constructor(deps: JobExecutorDeps) {
    this.#deps = deps
  }

  async execute(job: RunningJob): Promise<FinalizeItem | null> {
    const { config, events } = this.#deps
    const task = config.tasks.get(job.row.task)
    events.emit('job:start', { job: job.info })
    // cancelled (or lost) while it waited in the prefetch buffer: do not run it at all
    if (job.controller.signal.aborted) return this.#afterAbort(job, task, job.controller.signal.reason)
    if (!task)
      return this.#failure(
        job,
        undefined,
        new PermanentError(`no handler for task "${job.row.task}" in this worker`),
      )

    const progress = new ProgressReporter(this.#deps.pool, this.#deps.names, job, (error) =>
      this.#deps.onError('progress', error),
    )
    const context: TaskContext = Object.freeze({
      jobId: job.row.id,
      task: job.row.task,
      queue: job.row.queue,
      attempt: job.row.attempts,
      maxAttempts: job.row.max_attempts,
      signal: job.controller.signal,
      progress: (value: number | null, meta?: unknown) => {
        const written = progress.report(value, meta)
        if (typeof value === 'number' || value === null) events.emit('job:progress', { job: job.info, value })
        return written
      },
    })

    let soft: NodeJS.Timeout | undefined
    let hard: NodeJS.Timeout | undefined
    let hardLimitHit = false
    const hardLimit = new Promise<'hard-limit'>((resolve) => {
      const grace = task.hardTimeoutGraceMs ?? DEFAULT_HARD_GRACE_MS
      const startHard = () => {
        hard = setTimeout(() => {
          hardLimitHit = true
          resolve('hard-limit')
        }, grace)
      }
      if (task.timeoutMs !== undefined) {
        soft = setTimeout(() => {
          events.emit('job:timeout', { job: job.info, hard: false })
          job.abort('timeout')
          startHard()
        }, task.timeoutMs)
      }
      // a cancel (or lease loss, shutdown) also gets the grace period before the slot is freed
      job.controller.signal.addEventListener('abort', () => {
        if (!hard && !hardLimitHit) startHard()
      })
    })

    try {
      // a payload its task rejects fails the job for good (PermanentError): a retry cannot fix it
      const payload = task.parsePayload
        ? await parsePayloadForRun(task.parsePayload, job.row.payload)
        : job.row.payload
      const value = await Promise.race([
        Promise.resolve().then(() => task.handler(payload, context)),
        hardLimit,
      ])
      if (value === 'hard-limit' && hardLimitHit) {
        if (job.abortReason === 'timeout') events.emit('job:timeout', { job: job.info, hard: true })
        return this.#afterAbort(
          job,
          task,
          new Error(`hard time limit: the handler did not stop within the grace period`),
        )
      }
      await progress.flush()
      if (job.dropped) return null
      if (isSnooze(value)) {
        events.emit('job:snoozed', { job: job.info, delayMs: value.delayMs })
        return this.#item(job, 'available', null, null, value.delayMs, true)
      }
      let result: string | null = null
      if (value !== undefined) {
        try {
          result = serializeJson(value, 'result', this.#deps.maxPayloadBytes)
        } catch (error) {
          return this.#failure(
            job,
            task,
            new PermanentError(`the handler's result was rejected: ${(error as Error).message}`),
          )
        }
      }
      events.emit('job:succeeded', { job: job.info, durationMs: performance.now() - job.startedAt })
      return this.#item(job, 'succeeded', result, null, 0, false, this.#retentionFor('succeeded', task))
    } catch (error) {
      await progress.flush().catch(() => {})
      return this.#afterAbort(job, task, error)
    } finally {
      clearTimeout(soft)
      clearTimeout(hard)
    }
  }

  /** A run that threw (or hit the hard limit): maybe cancelled, dropped, retried or failed. */
  #afterAbort(job: RunningJob, task: AnyTaskDefinition | undefined, error: unknown): FinalizeItem | null {
    if (job.dropped) return null
    const reason = job.abortReason
    if (reason === 'lease-lost' || reason === 'shutdown') return null
    if (reason === 'cancelled') {
      this.#deps.events.emit('job:cancelled', { job: job.info })
      return this.#item(
        job,
        'cancelled',
        null,
        this.#errorJson(job, error),
        0,
        false,
        this.#retentionFor('cancelled', task),
      )
    }
    return this.#failure(job, task, error)
  }

  #failure(job: RunningJob, task: AnyTaskDefinition | undefined, thrown: unknown): FinalizeItem {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown))
    if (job.abortReason === 'timeout' && error instanceof JobAbortedError) {
      error.message = `timed out after ${task?.timeoutMs} ms`
    }
    const retryable =
      task !== undefined &&
      !(error instanceof PermanentError) &&
      job.row.attempts < job.row.max_attempts &&
      safeRetryOn(task, error)
    if (retryable) {
      const delayMs = task.retryPolicy.delayMs(job.row.attempts)
      this.#deps.events.emit('job:retry', { job: job.info, error, delayMs })
      return this.#item(job, 'available', null, this.#errorJson(job, error), delayMs, false)
    }
    this.#deps.events.emit('job:failed', { job: job.info, error })
    const item = this.#item(
      job,
      'failed',
      null,
      this.#errorJson(job, error),
      0,
      false,
      this.#retentionFor('failed', task),
    )
    // a task with a dead-letter queue parks its failed jobs there, for inspection and redrive
    return task?.deadLetterQueue ? { ...item, queue: task.deadLetterQueue } : item
  }

  #errorJson(job: RunningJob, error: unknown): string {
    const e = error instanceof Error ? error : new Error(String(error))
    const stack = (e.stack ?? '').slice(0, this.#deps.config.maxStackChars)
    const message = String(e.message).slice(0, 2_000)
    // error text may hold anything: make it JSON-safe (no NUL, no lone surrogates) before storing
    return JSON.stringify({
      attempt: job.row.attempts,
      name: e.name,
      message: clean(message),
      stack: clean(stack),
    })
  }

  #retentionFor(
    state: 'succeeded' | 'failed' | 'cancelled',
    task: AnyTaskDefinition | undefined,
  ): number | null {
    if (state === 'succeeded' && task?.deleteOnSuccess) return 0
    return this.#deps.config.retention[state]
  }

  #item(
    job: RunningJob,
    state: FinalizeItem['state'],
    result: string | null,
    error: string | null,
    delayMs: number,
    refundAttempt: boolean,
    retentionMs: number | null = null,
  ): FinalizeItem {
    return {
      id: job.row.id,
      leaseToken: job.row.lease_token,
      state,
      result,
      error,
      delayMs,
      refundAttempt,
      retentionMs,
      queue: null,
    }
  }
}

function safeRetryOn(task: AnyTaskDefinition, error: Error): boolean {
  try {
    return task.retryPolicy.retryOn(error)
  } catch {
    return true
  }
}

function clean(text: string): string {
  return text.replaceAll('\u0000', '').replace(/[\ud800-\udfff]/g, (c, i, s) => {
    const code = c.charCodeAt(0)
    const pairOk =
      code < 0xdc00 ? /[\udc00-\udfff]/.test(s[i + 1] ?? '') : /[\ud800-\udbff]/.test(s[i - 1] ?? '')
    return pairOk ? c : '\ufffd'
  })
}
