/**
 * The one retry policy of pgq's background loops (listener reconnect, fetcher and completer after
 * a failed statement, periodic maintenance): capped exponential backoff with "equal jitter" — the
 * n-th consecutive failure waits between half and all of `min(maxMs, minMs * 2^(n-1))`.
 *
 * ```ts
 * const backoff = new Backoff({ minMs: 100, maxMs: 5_000 })
 * for (;;) {
 *   try { await connect(); backoff.reset(); break }
 *   catch { await backoff.wait(signal) }
 * }
 * ```
 */
export class Backoff {
  readonly minMs: number
  readonly maxMs: number
  readonly #random: () => number
  #failures = 0
  #wake: (() => void) | undefined

  constructor(
    options: { readonly minMs?: number; readonly maxMs?: number; readonly random?: () => number } = {},
  ) {
    this.minMs = options.minMs ?? 100
    this.maxMs = options.maxMs ?? 5_000
    if (!(this.minMs > 0) || !(this.maxMs >= this.minMs)) {
      throw new RangeError(`backoff needs 0 < minMs <= maxMs (got ${this.minMs}, ${this.maxMs})`)
    }
    this.#random = options.random ?? Math.random
  }

  /** Consecutive failures since the last `reset()`. */
  get failures(): number {
    return this.#failures
  }

  /** Records one more failure and returns how long to wait before the next try, in ms. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.#failures, 30))
    this.#failures += 1
    return base / 2 + (this.#random() * base) / 2
  }

  /** The last try succeeded: the next failure starts again from `minMs`. */
  reset(): void {
    this.#failures = 0
  }

  /**
   * Records a failure and sleeps for the delay `next()` gives. Resolves early on `signal` abort or
   * `skip()`. The timer is unref()ed: a sleeping loop never keeps the process alive by itself.
   */
  wait(signal?: AbortSignal): Promise<void> {
    return this.sleep(this.next(), signal)
  }

  /** Sleeps `ms` (unref()ed), ending early on `signal` abort or `skip()`. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        if (this.#wake === done) this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref?.()
      signal?.addEventListener('abort', done, { once: true })
      this.#wake = done
    })
  }

  /**
   * Ends the current sleep at once and resets the count: something else (another connection)
   * just proved the database reachable, so there is no reason to sit out the backoff.
   */
  skip(): void {
    this.#failures = 0
    this.#wake?.()
  }
}
