/**
 * @internal A smoothed rate of events per second (here: jobs finished by one queue of one worker),
 * updated in windows of `windowMs`. Used to size the fetcher's prefetch buffer.
 */
export class ThroughputMeter {
  readonly #windowMs: number
  #count = 0
  #windowStart = performance.now()
  #rate = 0

  constructor(windowMs = 200) {
    this.#windowMs = windowMs
  }

  /** Counts one event. */
  tick(): void {
    this.#count += 1
    this.#roll()
  }

  /** Events per second, smoothed; decays towards 0 while nothing happens. */
  get perSecond(): number {
    this.#roll()
    return this.#rate
  }

  #roll(): void {
    const now = performance.now()
    const elapsed = now - this.#windowStart
    if (elapsed < this.#windowMs) return
    const windows = Math.floor(elapsed / this.#windowMs)
    const current = (this.#count * 1000) / elapsed
    // one step of smoothing per window, more when several windows passed with no update
    this.#rate = windows > 4 ? current : 0.5 * this.#rate + 0.5 * current
    this.#count = 0
    this.#windowStart = now
  }
}
