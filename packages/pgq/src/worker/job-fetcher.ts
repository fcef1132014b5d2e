import type { ClaimedJobRow } from '../sql/worker-queries.js'
import { ThroughputMeter } from './throughput-meter.js'

/** @internal Options of {@link JobFetcher}. */
export interface JobFetcherOptions {
  readonly queue: string
  readonly concurrency: number
  /** Most jobs per claim statement (default 100). */
  readonly maxBatch?: number
  readonly pollIntervalMs: number
  /**
   * Claim ahead what this queue is expected to start within this many ms at its current rate, so
   * fast jobs are claimed in large batches; slow jobs are never claimed ahead (default 50; 0: off).
   */
  readonly prefetchWindowMs?: number
  /** Most jobs held claimed but not started (default 500). */
  readonly maxPrefetch?: number
  readonly claim: (limit: number) => Promise<ClaimedJobRow[]>
  /** Jobs were claimed (and are now held under a lease, running or not). */
  readonly onClaimed: (rows: ClaimedJobRow[]) => void
  /** Start a claimed job; false when it is no longer held (lease lost, cancelled meanwhile). */
  readonly onStart: (row: ClaimedJobRow) => boolean
  /** False while the worker should not claim (completion backlog, shutting down). */
  readonly canClaim: () => boolean
  readonly onError: (component: string, error: unknown) => void
}

/**
 * @internal Claims jobs of one queue whenever it is woken (NOTIFY, poll, a freed slot, a delayed
 * job's time) and has free slots: one claim statement at a time, sized to the free slots, so wakes
 * that arrive while a claim is in flight fold into the next claim. When jobs finish fast, it also
 * claims ahead (a small local buffer worth `prefetchWindowMs` of work); jobs that take longer than
 * that are never claimed ahead, so idle workers elsewhere are not starved.
 */
export class JobFetcher {
  readonly #options: JobFetcherOptions
  #active = 0
  readonly #buffer: ClaimedJobRow[] = []
  readonly #meter = new ThroughputMeter()
  #wanted = false
  #loop: Promise<void> | undefined
  #moreLikely = true
  #stopped = true
  #poll: NodeJS.Timeout | undefined
  #delayed: { at: number; timer: NodeJS.Timeout } | undefined
  #errorDelayMs = 0

  constructor(options: JobFetcherOptions) {
    this.#options = Object.freeze({ maxBatch: 100, prefetchWindowMs: 50, maxPrefetch: 500, ...options })
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

  /**
   * Stops claiming and returns the jobs claimed ahead but not started, for the worker to release
   * (jobs already running are the worker's business).
   */
  async stop(): Promise<ClaimedJobRow[]> {
    this.#stopped = true
    clearInterval(this.#poll)
    clearTimeout(this.#delayed?.timer)
    this.#delayed = undefined
    await this.#loop
    return this.#buffer.splice(0)
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
          // a wake that came after the loop's last check but before it settled
          if (this.#wanted) this.wake()
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

  /** A job of this queue finished; start a buffered one, and claim again if the queue likely has more. */
  slotFreed(): void {
    this.#active -= 1
    this.#meter.tick()
    this.#startBuffered()
    if (this.#moreLikely || this.#buffer.length < this.#prefetchTarget() / 2) this.wake()
  }

  /** How many jobs to hold claimed ahead: what this queue starts in `prefetchWindowMs`. */
  #prefetchTarget(): number {
    const { prefetchWindowMs = 0, maxPrefetch = 0 } = this.#options
    return Math.min(maxPrefetch, Math.floor((this.#meter.perSecond * prefetchWindowMs) / 1000))
  }

  #startBuffered(): void {
    while (this.#active < this.#options.concurrency && this.#buffer.length > 0 && !this.#stopped) {
      const row = this.#buffer.shift()!
      if (this.#options.onStart(row)) this.#active += 1
    }
  }

  async #run(): Promise<void> {
    try {
      while (this.#wanted && !this.#stopped) {
        this.#wanted = false
        const free = this.#options.concurrency - this.#active - this.#buffer.length + this.#prefetchTarget()
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
        this.#moreLikely = rows.length === limit
        if (this.#moreLikely) this.#wanted = true
        if (rows.length > 0) {
          this.#options.onClaimed(rows)
          this.#buffer.push(...rows)
          this.#startBuffered()
        }
      }
    } catch (error) {
      this.#options.onError(`fetcher:${this.#options.queue}`, error)
    }
  }
}
