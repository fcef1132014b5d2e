import type { Service } from './service.js'
import type { ClaimedJobRow } from './sql/worker-queries.js'

/** @internal Options of {@link JobFetcher}. */
export interface JobFetcherOptions {
  readonly queue: string
  readonly concurrency: number
  /** Most jobs per claim statement (default 100). */
  readonly maxBatch?: number
  readonly pollIntervalMs: number
  readonly claim: (limit: number) => Promise<ClaimedJobRow[]>
  readonly onJobs: (rows: ClaimedJobRow[]) => void
  /** False while the worker should not claim (completion backlog, shutting down). */
  readonly canClaim: () => boolean
  readonly onError: (component: string, error: unknown) => void
}

/**
 * @internal Claims jobs of one queue whenever it is woken (NOTIFY, poll, a freed slot, a delayed
 * job's time) and has free slots: one claim statement at a time, sized to the free slots, so wakes
 * that arrive while a claim is in flight fold into the next claim.
 */
export class JobFetcher implements Service {
  readonly #options: JobFetcherOptions
  #active = 0
  #wanted = false
  #loop: Promise<void> | undefined
  #moreLikely = true
  #stopped = true
  #poll: NodeJS.Timeout | undefined
  #delayed: { at: number; timer: NodeJS.Timeout } | undefined
  #errorDelayMs = 0

  constructor(options: JobFetcherOptions) {
    this.#options = Object.freeze({ maxBatch: 100, ...options })
  }

  get queue(): string {
    return this.#options.queue
  }

  /** Jobs of this queue running now. */
  get active(): number {
    return this.#active
  }

  start(): void {
    this.#stopped = false
    this.#poll = setInterval(() => this.wake(), this.#options.pollIntervalMs)
    this.#poll.unref?.()
    this.wake()
  }

  /** Stops claiming (jobs already running are the worker's business). */
  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#poll)
    clearTimeout(this.#delayed?.timer)
    this.#delayed = undefined
    await this.#loop
  }

  /** Claim as soon as possible. */
  wake(): void {
    if (this.#stopped) return
    this.#wanted = true
    if (!this.#loop) {
      // Start on the next turn of the event loop, so all slots freed in this turn (a batch of fast
      // jobs finishing together) are claimed by one statement. Cleared in .finally, which always
      // runs after this assignment.
      this.#loop = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.#run())
        .finally(() => {
          this.#loop = undefined
        })
    }
  }

  /** Claim at `epochMs` (a job due then was enqueued); keeps the earliest such time. */
  wakeAt(epochMs: number): void {
    if (this.#stopped) return
    const delay = epochMs - Date.now()
    if (delay <= 0) {
      this.wake()
      return
    }
    if (this.#delayed && this.#delayed.at <= epochMs) return
    clearTimeout(this.#delayed?.timer)
    const timer = setTimeout(() => {
      this.#delayed = undefined
      this.#moreLikely = true
      this.wake()
    }, delay + 5)
    timer.unref?.()
    this.#delayed = { at: epochMs, timer }
  }

  /** A job of this queue finished; claim again if the queue likely has more. */
  slotFreed(): void {
    this.#active -= 1
    if (this.#moreLikely) this.wake()
  }

  async #run(): Promise<void> {
    try {
      while (this.#wanted && !this.#stopped) {
        this.#wanted = false
        const free = this.#options.concurrency - this.#active
        if (free <= 0 || !this.#options.canClaim()) {
          this.#moreLikely = true
          break
        }
        const limit = Math.min(free, this.#options.maxBatch!)
        let rows: ClaimedJobRow[]
        try {
          rows = await this.#options.claim(limit)
          this.#errorDelayMs = 0
        } catch (error) {
          this.#options.onError(`fetcher:${this.#options.queue}`, error)
          this.#errorDelayMs = Math.min(5_000, Math.max(100, this.#errorDelayMs * 2))
          await new Promise((resolve) => setTimeout(resolve, this.#errorDelayMs))
          continue
        }
        this.#active += rows.length
        this.#moreLikely = rows.length === limit
        if (this.#moreLikely) this.#wanted = true
        if (rows.length > 0) this.#options.onJobs(rows)
      }
    } catch (error) {
      this.#options.onError(`fetcher:${this.#options.queue}`, error)
    }
  }
}
