import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { isSnooze, JobAbortedError, PermanentError } from '../task/job-outcome.js'
import { serializeJson } from '../task/payload.js'
import { parsePayloadForRun, parseResultForRun, payloadValidatorOf } from '../task/payload-validation.js'
import { isStepError } from '../task/step-errors.js'
import type { AnyTaskDefinition } from '../task/task.js'
import type { RunSpan } from '../tracing/run-span.js'
import type { WorkerEvents } from './events.js'
import { DEFAULT_HARD_GRACE_MS, HARD_LIMIT, HardLimit } from './hard-limit.js'
import { AttemptContext, type AttemptServices } from './isolation/attempt-context.js'
import { HardTimeLimitError } from './isolation/errors.js'
import type { HandlerRunner } from './isolation/handler-runner.js'
import { RunnerRegistry } from './isolation/runner-registry.js'
import type { JobOutcome } from './outcome.js'
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

/**
 * @internal Runs one claimed job's handler and says how the run ended — a typed {@link JobOutcome}
 * (success, retry, failure, cancel, snooze), or null when there is nothing to write (lease lost,
 * released on shutdown). It announces nothing final: the worker emits the outcome's event once the
 * completer's write went through. Never throws.
 */
export class JobExecutor {
  readonly #deps: JobExecutorDeps
  readonly #runners: RunnerRegistry
  readonly #services: AttemptServices

  constructor(deps: JobExecutorDeps) {
    this.#deps = deps
    const { pool, names, events, maxPayloadBytes } = deps
    this.#services = Object.freeze({
      ...{ pool, names, events, maxPayloadBytes, maxErrorsKept: deps.config.maxErrorsKept },
      onProgressError: (error: unknown) => deps.onError('progress', error),
    })
    const concurrency = [...deps.config.queues.values()].reduce((sum, n) => sum + n, 0)
    this.#runners = new RunnerRegistry(deps.config.isolation, concurrency, (error) =>
      deps.onError('isolation', error),
    )
  }

  /** Starts the warm threads/processes of isolated tasks (`isolation.minIdle`). */
  warm(): void {
    this.#runners.warm()
  }

  /** Stops every handler thread and process; call after the running jobs are settled or released. */
  close(): Promise<void> {
    return this.#runners.close()
  }

  /**
   * Runs the job's handler to an outcome. `span` (tracing on) is the attempt's span: active while
   * the handler runs inline, and its context sent to a handler thread or process.
   */
  async execute(job: RunningJob, span?: RunSpan): Promise<JobOutcome | null> {
    const { config, events } = this.#deps
    const task = config.tasks.get(job.claim.task)
    events.emit('job:start', { job: job.info, waitMs: job.claim.waitMs })
    // cancelled (or lost) while it waited in the prefetch buffer: do not run it at all
    if (job.abortReason !== undefined)
      return this.#afterAbort(job, task, new JobAbortedError(job.abortReason))
    if (!task)
      return this.#failure(
        job,
        undefined,
        new PermanentError(`no handler for task "${job.claim.task}" in this worker`),
      )

    const attempt = new AttemptContext(job, task, this.#services, this.#retentionFor('succeeded', task))
    let runner: HandlerRunner
    try {
      const acquired = this.#runners.acquire(task) // a thread or process may start here (cold start)
      runner = acquired instanceof Promise ? await acquired : acquired
    } catch (error) {
      return this.#failure(job, task, error)
    }

    const limit = new HardLimit(task)
    // a cancel (or lease loss, shutdown) also gets the grace period before the slot is freed
    job.onAbort(() => limit.startGrace())
    if (task.timeoutMs !== undefined) {
      limit.startSoft(task.timeoutMs, () => {
        events.emit('job:timeout', { job: job.info, hard: false })
        job.abort('timeout')
      })
    }
    // aborted while its thread or process was starting: the grace runs from now
    if (job.abortReason !== undefined) limit.startGrace()

    const startedAt = performance.now()
    // a run that ends after the hard limit fails even if its handler returned: inline, a CPU-bound
    // handler blocks the timers, so its overrun is only seen when it yields
    const hardLimitMs =
      task.timeoutMs === undefined
        ? undefined
        : task.timeoutMs + (task.hardTimeoutGraceMs ?? DEFAULT_HARD_GRACE_MS)
    let terminated = false
    try {
      // a payload its task rejects fails the job for good (PermanentError): a retry cannot fix it
      const check = payloadValidatorOf(task)
      const parsed = check
        ? await parsePayloadForRun(check.validator, job.claim.payload, check.label)
        : job.claim.payload
      // outside the event loop the handler's own module parses the payload again
      const payload = runner.mode === 'inline' ? parsed : job.claim.payload
      const run = span
        ? span.activate(() => runner.run(payload, attempt.context, span.carrier, job.claim.steps))
        : runner.run(payload, attempt.context, undefined, job.claim.steps)
      const value = await limit.race(run)
      const ranMs = performance.now() - startedAt
      // ctx.transaction committed the job's success: whatever happened after, it is written
      if (job.committed) return this.#committed(job, attempt)
      if (value === HARD_LIMIT || (hardLimitMs !== undefined && ranMs > hardLimitMs)) {
        attempt.end()
        terminated = await runner.terminate()
        await attempt.flushProgress()
        if (job.abortReason === 'timeout' || value !== HARD_LIMIT)
          events.emit('job:timeout', { job: job.info, hard: true })
        return this.#afterAbort(job, task, new HardTimeLimitError(Math.round(ranMs), runner.mode, terminated))
      }
      attempt.end()
      const flushed = attempt.flushProgress()
      if (flushed) await flushed
      if (job.dropped) return null
      // a handler that reached ctx.sleep sleeps, whatever it did with the SleepInterrupt
      if (attempt.sleepMs !== undefined) return { kind: 'snoozed', delayMs: attempt.sleepMs }
      if (isSnooze(value)) return { kind: 'snoozed', delayMs: value.delayMs }
      // a result the task's resultSchema rejects fails the job for good (PermanentError, caught below)
      const output = task.resultSchema ? await parseResultForRun(task.resultSchema, value) : value
      let result: string | null = null
      if (output !== undefined) {
        try {
          result = serializeJson(output, 'result', this.#deps.maxPayloadBytes)
        } catch (error) {
          return this.#failure(
            job,
            task,
            new PermanentError(`the handler's result was rejected: ${(error as Error).message}`),
          )
        }
      }
      return {
        kind: 'succeeded',
        result,
        retentionMs: this.#retentionFor('succeeded', task),
        durationMs: performance.now() - job.startedAt,
      }
    } catch (error) {
      if (job.committed) return this.#committed(job, attempt)
      attempt.end()
      await attempt.flushProgress()
      if (!job.dropped && attempt.sleepMs !== undefined) return { kind: 'snoozed', delayMs: attempt.sleepMs }
      return this.#afterAbort(job, task, error)
    } finally {
      attempt.end()
      if (!terminated) runner.release()
      limit.clear()
    }
  }

  /** The run's `ctx.transaction` already wrote the job's success: the completer only confirms it. */
  #committed(job: RunningJob, attempt: AttemptContext): JobOutcome {
    attempt.end()
    return {
      kind: 'succeeded',
      result: job.committed?.result ?? null,
      retentionMs: null,
      durationMs: performance.now() - job.startedAt,
      committed: true,
    }
  }

  /** A run that threw (or hit the hard limit): maybe cancelled, dropped, retried or failed. */
  #afterAbort(job: RunningJob, task: AnyTaskDefinition | undefined, error: unknown): JobOutcome | null {
    if (job.dropped) return null
    if (job.abortReason === 'cancelled') {
      return {
        kind: 'cancelled',
        errorJson: this.#errorJson(job, error),
        retentionMs: this.#retentionFor('cancelled', task),
      }
    }
    return this.#failure(job, task, error)
  }

  #failure(job: RunningJob, task: AnyTaskDefinition | undefined, thrown: unknown): JobOutcome {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown))
    if (job.abortReason === 'timeout' && error instanceof JobAbortedError) {
      error.message = `timed out after ${task?.timeoutMs} ms`
    }
    const retryable =
      task !== undefined &&
      !(error instanceof PermanentError || error.name === 'PermanentError' || isStepError(error)) &&
      job.claim.attempt < job.claim.maxAttempts &&
      safeRetryOn(task, error)
    const errorJson = this.#errorJson(job, error)
    if (retryable)
      return { kind: 'retry', error, errorJson, delayMs: task.retryPolicy.delayMs(job.claim.attempt) }
    return {
      kind: 'failed',
      error,
      errorJson,
      retentionMs: this.#retentionFor('failed', task),
      // a task with a dead-letter queue parks its failed jobs there, for inspection and redrive
      deadLetterQueue: task?.deadLetterQueue ?? null,
    }
  }

  #errorJson(job: RunningJob, error: unknown): string {
    const e = error instanceof Error ? error : new Error(String(error))
    const stack = (e.stack ?? '').slice(0, this.#deps.config.maxStackChars)
    const message = String(e.message).slice(0, 2_000)
    // error text may hold anything: make it JSON-safe (no NUL, no lone surrogates) before storing
    return JSON.stringify({
      attempt: job.claim.attempt,
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
