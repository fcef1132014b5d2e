import type { ClaimedJob } from '../sql/worker-queries.js'
import { JobAbortedError } from '../task/job-outcome.js'
import type { JobInfo } from './events.js'

/**
 * @internal A job this worker holds: its claim (id + lease token), what events say about it, and
 * its handler's abort controller. Where it is in its life (claimed, running, settled) is kept by
 * {@link HeldJobs}, the only place that moves it.
 */
export class RunningJob {
  readonly claim: ClaimedJob
  readonly info: JobInfo
  /** Made on first use of {@link signal}: most handlers never read it, and an AbortSignal is costly. */
  #controller: AbortController | undefined
  #startedAt = 0
  #abortReason: JobAbortedError['reason'] | undefined
  #onAbort: (() => void) | undefined
  #committed: { readonly result: string | null } | undefined

  constructor(claim: ClaimedJob) {
    this.claim = claim
    this.info = Object.freeze({
      id: claim.id,
      task: claim.task,
      queue: claim.queue,
      attempt: claim.attempt,
      maxAttempts: claim.maxAttempts,
    })
  }

  /** performance.now() when the handler started (0 while claimed ahead, not started). */
  get startedAt(): number {
    return this.#startedAt
  }

  /** @internal Called by HeldJobs as the job moves from claimed to running. */
  markStarted(): void {
    this.#startedAt ||= performance.now()
  }

  /**
   * Set once `ctx.transaction` committed the job's success with the handler's writes: the job is
   * finished in the database (its lease is gone), nothing more is written for this attempt.
   */
  get committed(): { readonly result: string | null } | undefined {
    return this.#committed
  }

  /** @internal Called by the attempt's transaction right after its COMMIT. */
  markCommitted(result: string | null): void {
    this.#committed = Object.freeze({ result })
  }

  /**
   * The handler's abort signal (`ctx.signal`), aborted with a `JobAbortedError` when the run is
   * cancelled, times out, loses its lease or is released on shutdown. Created when first read.
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#abortReason !== undefined) this.#controller.abort(new JobAbortedError(this.#abortReason))
    }
    return this.#controller.signal
  }

  get abortReason(): JobAbortedError['reason'] | undefined {
    return this.#abortReason
  }

  /**
   * Dropped by this worker (lease lost, or released on shutdown): whatever the handler does from
   * here on, nothing of this attempt is written.
   */
  get dropped(): boolean {
    return this.#abortReason === 'lease-lost' || this.#abortReason === 'shutdown'
  }

  /**
   * Aborts the handler's signal (first reason wins), then calls the hook set by {@link onAbort}.
   * The only way this job's run is aborted: nothing else holds its signal's controller.
   */
  abort(reason: JobAbortedError['reason']): void {
    if (this.#abortReason !== undefined) return
    this.#abortReason = reason
    this.#controller?.abort(new JobAbortedError(reason))
    this.#onAbort?.()
  }

  /**
   * One hook called when the run is aborted (the executor starts its hard-limit grace there). A
   * plain callback, not an `abort` listener on the signal: it costs nothing for the many runs
   * that are never aborted.
   */
  onAbort(hook: () => void): void {
    this.#onAbort = hook
  }
}
