import { Backoff } from '../util/backoff.js'

/** Something a worker starts and stops: the listener, fetchers, completer, maintenance loops. */
export interface Service {
  start(): Promise<void> | void
  /** Stops and waits for work in flight to settle. Idempotent. */
  stop(): Promise<void>
}

/** Options of {@link PeriodicService}. */
export interface PeriodicServiceOptions {
  /** Name used in error reports (e.g. `rescuer`). */
  readonly name: string
  /** Time between the end of one run and the start of the next, in ms. */
  readonly intervalMs: number
  /** Random spread of the interval as a fraction (default 0.1), so processes do not run in lockstep. */
  readonly jitter?: number
  /** Run once right at start (default true). */
  readonly runAtStart?: boolean
  /** One run. Errors are caught and passed to `onError`; they never stop the loop or crash the process. */
  readonly run: (signal: AbortSignal) => Promise<void>
  readonly onError: (name: string, error: unknown) => void
  /** A run succeeded (the database is reachable). */
  readonly onSuccess?: () => void
  /**
   * After failed runs the next one waits a backoff that starts at `intervalMs` and doubles up to
   * this (default: the larger of `intervalMs` and 30,000 ms); a success, or `trigger()`, goes back
   * to the normal interval.
   */
  readonly maxBackoffMs?: number
}

/**
 * Runs a function every `intervalMs` (plus jitter) until stopped; never overlaps itself, never
 * throws out of its timer; after failures it backs off (see `maxBackoffMs`). `trigger()` runs it
 * early.
 *
 * ```ts
 * const rescuer = new PeriodicService({ name: 'rescuer', intervalMs: 5_000, run: rescue, onError: log })
 * rescuer.start()
 * await rescuer.stop()
 * ```
 */
export class PeriodicService implements Service {
  readonly #options: PeriodicServiceOptions
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #abort = new AbortController()
  #stopped = true
  readonly #backoff: Backoff
  #failed = false

  constructor(options: PeriodicServiceOptions) {
    this.#options = Object.freeze({ jitter: 0.1, runAtStart: true, ...options })
    const { intervalMs, maxBackoffMs = Math.max(intervalMs, 30_000) } = this.#options
    this.#backoff = new Backoff({
      minMs: Math.max(1, intervalMs),
      maxMs: Math.max(1, intervalMs, maxBackoffMs),
    })
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#abort = new AbortController()
    if (this.#options.runAtStart) this.trigger()
    else this.#schedule()
  }

  /** Runs now (or right after the run in progress). */
  trigger(): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#running) {
      void this.#running.then(() => this.trigger())
      return
    }
    this.#running = this.#options
      .run(this.#abort.signal)
      .then(() => {
        this.#failed = false
        this.#backoff.reset()
        this.#options.onSuccess?.()
      })
      .catch((error: unknown) => {
        this.#failed = true
        if (!this.#abort.signal.aborted) this.#options.onError(this.#options.name, error)
      })
      .finally(() => {
        this.#running = undefined
        this.#schedule()
      })
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#abort.abort()
    await this.#running
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return
    const { intervalMs, jitter = 0 } = this.#options
    const delay = this.#failed
      ? this.#backoff.next()
      : Math.max(0, intervalMs * (1 + jitter * (2 * Math.random() - 1)))
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.trigger()
    }, delay)
    this.#timer.unref?.()
  }
}
