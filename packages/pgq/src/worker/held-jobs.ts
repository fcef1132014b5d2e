import type { ClaimedJob } from '../sql/worker-queries.js'
import { RunningJob } from './running-job.js'

/** Where a held job is: claimed (waiting for a slot), running (its handler), settled (outcome being written). */
export type HeldState = 'claimed' | 'running' | 'settled'

/**
 * @internal The registry of the jobs a worker holds under a lease, and the only thing that moves
 * them: claimed → running → settled → gone (outcome written or refused), or dropped at any point
 * before settled (lease lost, released on shutdown: the handler is aborted and its outcome will
 * not be written). A job not in the registry is not held.
 *
 * ```ts
 * const held = new HeldJobs()
 * held.add(claims)
 * const job = held.start(claims[0].id) // undefined if it was dropped while it waited
 * ```
 */
export class HeldJobs {
  readonly #jobs = new Map<string, { readonly job: RunningJob; state: HeldState }>()
  readonly #onSuperseded: (job: RunningJob) => void
  #running = 0
  #idleWaiters: (() => void)[] = []

  /**
   * @param onSuperseded called for a run still held here when this worker claims the same job again:
   *   the new claim proves the old run's lease was lost (it expired, the job was requeued, and the
   *   claim gave it a new token), so the old run is dropped and its handler aborted (`lease-lost`).
   */
  constructor(onSuperseded: (job: RunningJob) => void = () => {}) {
    this.#onSuperseded = onSuperseded
  }

  /** Jobs held (claimed, running or settled). */
  get size(): number {
    return this.#jobs.size
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running
  }

  /**
   * Claimed jobs are held (their leases renewed) from the claim on. A run of the same job still held
   * from an earlier claim (a stalled worker whose lease expired, claiming the requeued job again) is
   * dropped and reported to `onSuperseded`; one already settled is left to its write, which the
   * new lease token fences off.
   */
  add(claims: readonly ClaimedJob[]): void {
    for (const claim of claims) {
      const earlier = this.#jobs.get(claim.id)
      if (earlier && earlier.state !== 'settled' && this.drop(earlier.job, 'lease-lost'))
        this.#onSuperseded(earlier.job)
      this.#jobs.set(claim.id, { job: new RunningJob(claim), state: 'claimed' })
    }
  }

  get(id: string): RunningJob | undefined {
    return this.#jobs.get(id)?.job
  }

  stateOf(job: RunningJob): HeldState | undefined {
    const entry = this.#jobs.get(job.claim.id)
    return entry?.job === job ? entry.state : undefined
  }

  /** All held jobs (a snapshot). */
  all(): RunningJob[] {
    return [...this.#jobs.values()].map((e) => e.job)
  }

  /** Held jobs in one state (a snapshot). */
  inState(state: HeldState): RunningJob[] {
    return [...this.#jobs.values()].filter((e) => e.state === state).map((e) => e.job)
  }

  /** claimed → running. Undefined when the job is no longer held (dropped while it waited). */
  start(id: string): RunningJob | undefined {
    const entry = this.#jobs.get(id)
    if (entry?.state !== 'claimed') return undefined
    entry.state = 'running'
    this.#running += 1
    entry.job.markStarted()
    return entry.job
  }

  /** running → settled: its outcome goes to the completer. False when it was dropped meanwhile. */
  settle(job: RunningJob): boolean {
    const entry = this.#jobs.get(job.claim.id)
    if (entry?.job !== job || entry.state !== 'running') return false
    entry.state = 'settled'
    this.#leftRunning()
    return true
  }

  /** A run that ended with nothing to write, or whose outcome was written or refused: no longer held. */
  finish(job: RunningJob): void {
    const entry = this.#jobs.get(job.claim.id)
    if (entry?.job !== job) return
    this.#jobs.delete(job.claim.id)
    if (entry.state === 'running') this.#leftRunning()
  }

  /**
   * claimed/running → dropped: aborts the handler with `reason` and forgets the job, so nothing
   * about it is written. False when it was not held or is already settled (its write decides).
   */
  drop(job: RunningJob, reason: 'lease-lost' | 'shutdown'): boolean {
    const entry = this.#jobs.get(job.claim.id)
    if (entry?.job !== job || entry.state === 'settled') return false
    this.#jobs.delete(job.claim.id)
    if (entry.state === 'running') this.#leftRunning()
    job.abort(reason)
    return true
  }

  /** {@link drop} for each of `jobs` (undefined ones skipped); returns those it dropped. */
  dropAll(jobs: readonly (RunningJob | undefined)[], reason: 'lease-lost' | 'shutdown'): RunningJob[] {
    return jobs.filter((job): job is RunningJob => !!job && this.drop(job, reason))
  }

  /** Resolves once no handler is running (at once when none is). */
  whenNoneRunning(): Promise<void> {
    if (this.#running === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  #leftRunning(): void {
    this.#running -= 1
    if (this.#running > 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
