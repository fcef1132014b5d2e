import type { Logger } from '../logger.js'

/** Options of {@link OutageLog}. */
export interface OutageLogOptions {
  readonly logger: Logger
  /** Least time between two "still failing" lines while an outage lasts, in ms (default 30,000). */
  readonly reminderMs?: number
  /** Called once when an outage ends (the first success after failures). */
  readonly onRecovered?: (outageMs: number) => void
  readonly now?: () => number
}

/**
 * Bounded logging for background loops that fail while the database is away. The first failure of
 * an outage logs one line; later failures (from any component sharing this log) are only counted,
 * with a reminder line at most every `reminderMs`; the first success logs one line, "database
 * reachable again after Xs", with the count of suppressed errors. So an outage of any length costs
 * a handful of lines per worker, not one per failed try.
 *
 * ```ts
 * const outage = new OutageLog({ logger, onRecovered: () => fetchers.wakeAll() })
 * try { await claim(); outage.succeeded() } catch (error) { outage.failed('fetcher:emails', error) }
 * ```
 */
export class OutageLog {
  readonly #options: OutageLogOptions
  readonly #now: () => number
  #since: number | undefined
  #lastLine = 0
  #suppressed = 0
  #lastSuccess: number | undefined

  constructor(options: OutageLogOptions) {
    this.#options = Object.freeze({ ...options })
    this.#now = options.now ?? Date.now
  }

  /** When the database last answered (the `now` clock, ms), or undefined before the first success. */
  get lastSucceededAt(): number | undefined {
    return this.#lastSuccess
  }

  /** True between a failure and the next success. */
  get failing(): boolean {
    return this.#since !== undefined
  }

  /** Records a failure of `component`; returns true when it was logged (false: suppressed). */
  failed(component: string, error: unknown): boolean {
    const now = this.#now()
    const message = error instanceof Error ? error.message : String(error)
    const { logger, reminderMs = 30_000 } = this.#options
    if (this.#since === undefined) {
      this.#since = now
      this.#lastLine = now
      this.#suppressed = 0
      logger.error(`${component} error; retrying with backoff (further errors summarized)`, {
        error: message,
      })
      return true
    }
    if (now - this.#lastLine >= reminderMs) {
      logger.warn('database still unreachable', {
        for_s: Math.round((now - this.#since) / 1000),
        suppressed: this.#suppressed,
        last_component: component,
        error: message,
      })
      this.#lastLine = now
      this.#suppressed = 0
      return true
    }
    this.#suppressed += 1
    return false
  }

  /** Records a success; ends the outage (one line) when one was going on. */
  succeeded(): void {
    this.#lastSuccess = this.#now()
    if (this.#since === undefined) return
    const outageMs = this.#now() - this.#since
    this.#since = undefined
    this.#options.logger.info(`database reachable again after ${(outageMs / 1000).toFixed(1)}s`, {
      suppressed: this.#suppressed,
    })
    this.#suppressed = 0
    this.#options.onRecovered?.(outageMs)
  }
}
