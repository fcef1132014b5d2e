import type { ClaimedJob } from '../sql/worker-queries.js'
import { Backoff } from '../util/backoff.js'
import type { HeldJobs } from './held-jobs.js'
import type { RunningJob } from './running-job.js'
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
  /** Runs the claim statement for up to `limit` jobs. */
  readonly claim: (limit: number) => Promise<ClaimedJob[]>
  /** Where claimed jobs are held (and from where they are started). */
  readonly held: HeldJobs
  /** Runs a started job; the worker calls `slotFreed()` when its run is over. */
  readonly run: (job: RunningJob) => void
  /** False while the worker should not claim (completion backlog, shutting down). */
  readonly canClaim: () => boolean
  readonly onError: (component: string, error: unknown) => void
  /** A claim statement went through (the database is reachable). */
  readonly onSuccess?: () => void
  /** Backoff after a failed claim (default 100 ms doubling to 5 s). */
  readonly backoff?: Backoff
}

/** Weight of the newest run time in the moving average of run times. */
const RUN_TIME_WEIGHT = 0.2

/**
 * @internal Claims jobs of one queue whenever it is woken (NOTIFY, poll, a freed slot, a delayed
 * job's time) and has free slots: one claim statement at a time, sized to the free slots, so wakes
 * that arrive while a claim is in flight fold into the next claim. When jobs finish fast, it also
 * claims ahead (a small local buffer worth `prefetchWindowMs` of work). It claims ahead only while
 * the queue is busy and the average run time of its jobs stays under that window: a queue coming
 * back from idle claims only its free slots, so slow jobs arriving after a burst of fast ones are
 * shared with idle workers elsewhere.
 *
 * ```ts
 * const fetcher = new JobFetcher({ queue: 'emails', concurrency: 10, pollIntervalMs: 1_000, claim, held, run, canClaim, onError })
 * fetcher.start()
 * ```
 */
export class JobFetcher {
  readonly #options: JobFetcherOptions
  readonly #backoff: Backoff
  #active = 0
  readonly #buffer: ClaimedJob[] = []
  readonly #meter = new ThroughputMeter()
  /** Moving average of run times in ms; undefined until a job ran since the queue was last idle. */
  #runMs: number | undefined
  /** performance.now() when the queue last ran out of work here (nothing running, nothing buffered). */
  #idleSince = 0
  #wanted = false
  /**
   * Relays of wake-ups this fetcher was chosen for (worker/wake-selection.ts): called when its next
   * claim cannot take all there may be (no free slot, or a full batch), so the next workers wake.
   */
  #relays: (() => void)[] = []
  #loop: Promise<void> | undefined
  #moreLikely = true
  /** The last loop stopped because `canClaim()` said no (completion backlog), not for want of slots. */
  #heldBack = false
  #stopped = true
  #abort = new AbortController()
  #poll: NodeJS.Timeout | undefined
  #delayed: { at: number; timer: NodeJS.Timeout } | undefined

  constructor(options: JobFetcherOptions) {
    this.#options = Object.freeze({ maxBatch: 100, prefetchWindowMs: 50, maxPrefetch: 500, ...options })
    this.#backoff = options.backoff ?? new Backoff({ minMs: 100, maxMs: 5_000 })
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
    this.#abort = new AbortController()
    this.#poll = setInterval(() => this.wake(), this.#options.pollIntervalMs)
    this.#poll.unref?.()
    this.wake()
  }

  /**
   * Stops claiming and returns the jobs claimed ahead but not started, for the worker to release
   * (jobs already running are the worker's business).
   */
  async stop(): Promise<ClaimedJob[]> {
    this.#stopped = true
    this.#passOn(this.#relays.splice(0), true) // stopping: others take what this one was woken for
    this.#abort.abort()
    clearInterval(this.#poll)
    clearTimeout(this.#delayed?.timer)
    this.#delayed = undefined
    await this.#loop
    return this.#buffer.splice(0)
  }

  /**
   * Claim as soon as possible. `relay` (a wake-up this worker was chosen for) is called if that
   * claim finds no free slot or fills its batch: more jobs may wait than this worker takes.
   */
  wake(relay?: () => void): void {
    if (this.#stopped) {
      relay?.() // stopping: pass it on
      return
    }
    if (relay) this.#relays.push(relay)
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

  /** The database is reachable again: claim now instead of sitting out the error backoff. */
  resume(): void {
    this.#backoff.skip()
    this.wake()
  }

  /**
   * What held claiming back (the completion backlog) has cleared: claim now if the last loop
   * stopped for that reason. Nothing else would wake it: its slots were freed while it was held back.
   */
  unblock(): void {
    if (!this.#heldBack) return
    this.#heldBack = false
    this.wake()
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

  /**
   * A job of this queue finished after `runMs`: start a buffered one, and claim again if the
   * queue likely has more.
   */
  slotFreed(runMs: number): void {
    this.#active -= 1
    this.#meter.tick()
    this.#runMs = this.#runMs === undefined ? runMs : this.#runMs + RUN_TIME_WEIGHT * (runMs - this.#runMs)
    this.#startBuffered()
    if (this.#active === 0 && this.#buffer.length === 0) this.#idleSince = performance.now()
    if (this.#moreLikely || this.#buffer.length < this.#prefetchTarget() / 2) this.wake()
  }

  /**
   * How many jobs to hold claimed ahead: what this queue starts in `prefetchWindowMs` — none while
   * its jobs take longer than that on average, and none for the first claim after an idle spell
   * longer than the window (what finished before it says nothing about what comes next).
   */
  #prefetchTarget(): number {
    const { prefetchWindowMs = 0, maxPrefetch = 0 } = this.#options
    if (this.#runMs === undefined || this.#runMs >= prefetchWindowMs) return 0
    return Math.min(maxPrefetch, Math.floor((this.#meter.perSecond * prefetchWindowMs) / 1000))
  }

  #startBuffered(): void {
    while (this.#active < this.#options.concurrency && this.#buffer.length > 0 && !this.#stopped) {
      const claim = this.#buffer.shift()!
      const job = this.#options.held.start(claim.id)
      if (!job) continue // dropped while it waited (lease lost)
      this.#active += 1
      this.#options.run(job)
    }
  }

  /** Calls the relays when this worker could not take all there may be; drops them otherwise. */
  #passOn(relays: (() => void)[], overflow: boolean): void {
    if (!overflow) return
    for (const relay of relays) {
      try {
        relay()
      } catch (error) {
        this.#options.onError(`fetcher:${this.#options.queue}`, error)
      }
    }
  }

  async #run(): Promise<void> {
    try {
      while (this.#wanted && !this.#stopped) {
        this.#wanted = false
        // idle for longer than the window: forget the last burst's run times, so this claim
        // takes only the free slots
        if (
          this.#active === 0 &&
          this.#buffer.length === 0 &&
          performance.now() - this.#idleSince > (this.#options.prefetchWindowMs ?? 0)
        )
          this.#runMs = undefined
        const free = this.#options.concurrency - this.#active - this.#buffer.length + this.#prefetchTarget()
        const relays = this.#relays.splice(0)
        if (free <= 0) {
          this.#moreLikely = true
          this.#passOn(relays, true)
          break
        }
        if (!this.#options.canClaim()) {
          this.#moreLikely = true
          this.#heldBack = true
          this.#passOn(relays, true)
          break
        }
        const limit = Math.min(free, this.#options.maxBatch!)
        let claims: ClaimedJob[]
        try {
          claims = await this.#options.claim(limit)
        } catch (error) {
          this.#relays.unshift(...relays) // the next attempt decides
          this.#options.onError(`fetcher:${this.#options.queue}`, error)
          await this.#backoff.wait(this.#abort.signal)
          this.#wanted = true
          continue
        }
        this.#backoff.reset()
        this.#options.onSuccess?.()
        this.#moreLikely = claims.length === limit
        this.#passOn(relays, this.#moreLikely)
        if (this.#moreLikely) this.#wanted = true
        if (claims.length > 0) {
          this.#options.held.add(claims)
          this.#buffer.push(...claims)
          this.#startBuffered()
        }
      }
    } catch (error) {
      this.#options.onError(`fetcher:${this.#options.queue}`, error)
    }
  }
}
