import type { AnyTaskDefinition } from '../task/task.js'

/** Default grace between a task's soft limit (or an abort) and its hard limit. */
export const DEFAULT_HARD_GRACE_MS = 5_000

/** What {@link HardLimit.race} resolves with when the hard limit passed before the run settled. */
export const HARD_LIMIT: unique symbol = Symbol('hard-limit')

/**
 * @internal The timers of one run: the soft limit (`timeoutMs`, which aborts the handler) and the
 * hard limit that frees the slot `hardTimeoutGraceMs` after an abort, whether the abort came from
 * the soft limit, a cancel, a lost lease or shutdown. Costs two fields for a run that is never
 * aborted and has no `timeoutMs`: no timer, no listener.
 *
 * ```ts
 * const limit = new HardLimit(task)
 * job.onAbort(() => limit.startGrace())
 * const value = await limit.race(run) // HARD_LIMIT if the grace ran out first
 * limit.clear()
 * ```
 */
export class HardLimit {
  readonly #graceMs: number
  #soft: NodeJS.Timeout | undefined
  #hard: NodeJS.Timeout | undefined
  #hit = false
  #resolve: ((value: typeof HARD_LIMIT) => void) | undefined

  constructor(task: Pick<AnyTaskDefinition, 'hardTimeoutGraceMs'>) {
    this.#graceMs = task.hardTimeoutGraceMs ?? DEFAULT_HARD_GRACE_MS
  }

  /** Runs `onSoft` after `timeoutMs` (the soft limit); the caller aborts the run there. */
  startSoft(timeoutMs: number, onSoft: () => void): void {
    this.#soft = setTimeout(onSoft, timeoutMs)
  }

  /** Starts the grace period once (later calls do nothing); when it ends, {@link race} gives up. */
  startGrace(): void {
    if (this.#hard || this.#hit) return
    this.#hard = setTimeout(() => {
      this.#hit = true
      this.#resolve?.(HARD_LIMIT)
    }, this.#graceMs)
  }

  /** The run's value, or {@link HARD_LIMIT} when the grace ran out before the run settled. */
  race<T>(run: Promise<T>): Promise<T | typeof HARD_LIMIT> {
    if (this.#hit) return Promise.resolve(HARD_LIMIT)
    return new Promise((resolve, reject) => {
      this.#resolve = resolve
      run.then(resolve, reject)
    })
  }

  /** Stops both timers. */
  clear(): void {
    clearTimeout(this.#soft)
    clearTimeout(this.#hard)
    this.#resolve = undefined
  }
}
