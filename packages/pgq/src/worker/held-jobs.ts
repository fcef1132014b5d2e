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
  #running = 0
  #idleWaiters: (() => void)[] = []

  /** Jobs held (claimed, running or settled). */
  get size(): number {
    return this.#jobs.size
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running
  }

  /** Claimed jobs are held (their leases renewed) from the claim on. */
  add(claims: readonly ClaimedJob[]): void {
    for (const claim of claims) this.#jobs.set(claim.id, { job: new RunningJob(claim), state: 'claimed' })
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
