import type { ClaimedJobRow } from '../sql/worker-queries.js'
import { JobAbortedError } from '../task/job-outcome.js'
import type { JobInfo } from './events.js'

/**
 * @internal A job this worker holds: its claim (id + lease token), its handler's abort
 * controller, and why it was aborted. Shared by the executor, heartbeat, listener and shutdown.
 */
export class RunningJob {
  readonly row: ClaimedJobRow
  readonly info: JobInfo
  readonly controller = new AbortController()
  /** performance.now() when the handler started (0 while claimed ahead, not started). */
  startedAt = 0
  /** Set once the outcome must not be written (lease lost, released on shutdown). */
  dropped = false
  /** Set once the handler's run is over and its outcome (if any) is handed to the completer. */
  settled = false
  /** Resolves when the handler's run is over (outcome computed or given up by the hard limit). */
  done: Promise<void> = Promise.resolve()

  constructor(row: ClaimedJobRow) {
    this.row = row
    this.info = Object.freeze({
      id: row.id,
      task: row.task,
      queue: row.queue,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
    })
  }

  markStarted(): void {
    this.startedAt = performance.now()
  }

  get abortReason(): JobAbortedError['reason'] | undefined {
    const reason = this.controller.signal.reason
    return reason instanceof JobAbortedError ? reason.reason : undefined
  }

  abort(reason: JobAbortedError['reason']): void {
    if (!this.controller.signal.aborted) this.controller.abort(new JobAbortedError(reason))
  }
}
