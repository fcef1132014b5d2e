import { PgqError } from '../../errors.js'

/**
 * A handler used its context (`ctx.progress`) after its attempt had ended: the hard time limit
 * passed, its outcome was already taken, or its lease was lost. Nothing was written.
 *
 * ```ts
 * await ctx.progress(90).catch((e) => {
 *   if (e instanceof AttemptEndedError) return // the attempt is over; stop working
 *   throw e
 * })
 * ```
 */
export class AttemptEndedError extends PgqError {
  readonly jobId: string
  readonly attempt: number

  constructor(jobId: string, attempt: number, action: string) {
    super(
      'PGQ_ATTEMPT_ENDED',
      `job ${jobId} attempt ${attempt}: ${action} refused, the attempt has ended (nothing was written)`,
      { jobId, attempt, action },
    )
    this.jobId = jobId
    this.attempt = attempt
  }
}

/**
 * The error an attempt fails with when its handler ran past the hard time limit (soft limit +
 * grace). `terminated` says whether the handler was really stopped (thread or process isolation)
 * or only abandoned (inline: the code may still be running in the worker's event loop).
 *
 * ```ts
 * retry: { retryOn: (e) => !(e instanceof Error && e.name === 'HardTimeLimitError') }
 * ```
 */
export class HardTimeLimitError extends PgqError {
  /** How long the handler had run when its attempt was failed, in ms. */
  readonly ranMs: number
  readonly terminated: boolean

  constructor(ranMs: number, mode: string, terminated: boolean) {
    const what = terminated
      ? `its ${mode === 'thread' ? 'worker thread was terminated' : 'process was killed (SIGKILL)'}`
      : 'it was abandoned, not stopped (inline isolation)'
    super(
      'PGQ_HARD_TIME_LIMIT',
      `hard time limit: the handler was still running after ${ranMs} ms; ${what}`,
      {
        ranMs,
        mode,
        terminated,
      },
    )
    this.ranMs = ranMs
    this.terminated = terminated
  }
}

/**
 * The thread or process that ran a handler died during the attempt (uncaught error,
 * `process.exit()`, out of memory, a signal). Only that attempt fails; the worker replaces it.
 *
 * ```ts
 * worker.on('job:retry', ({ error }) => {
 *   if (error instanceof HandlerCrashedError) console.warn(error.message)
 * })
 * ```
 */
export class HandlerCrashedError extends PgqError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('PGQ_HANDLER_CRASHED', message, context)
  }
}
