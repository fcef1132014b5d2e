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
  readonly controller = new AbortController()
  #startedAt = 0
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

  get abortReason(): JobAbortedError['reason'] | undefined {
    const reason = this.controller.signal.reason
    return reason instanceof JobAbortedError ? reason.reason : undefined
  }

  /** Aborts the handler's signal (first reason wins). */
  abort(reason: JobAbortedError['reason']): void {
    if (!this.controller.signal.aborted) this.controller.abort(new JobAbortedError(reason))
  }
}
