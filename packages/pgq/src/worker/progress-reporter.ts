import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import { setProgress } from '../sql/worker-queries.js'
import { serializeJson } from '../task/payload.js'
import type { RunningJob } from './running-job.js'

/** Progress writes of one job are at most this often; the latest value always lands. */
export const PROGRESS_INTERVAL_MS = 250
const MAX_PROGRESS_BYTES = 8 * 1024

/**
 * @internal Writes one running job's progress in its own short transaction (visible at once),
 * throttled: a handler reporting in a tight loop costs at most one write per interval, and the
 * last value reported is written when the interval ends (or on flush).
 */
export class ProgressReporter {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #job: RunningJob
  #lastWriteAt = Number.NEGATIVE_INFINITY
  #pending: string | undefined
  #timer: NodeJS.Timeout | undefined
  /** The last write (chained); undefined until the first one, so a job that reports nothing flushes for free. */
  #writing: Promise<void> | undefined

  readonly #onError: ((error: unknown) => void) | undefined

  constructor(pool: pg.Pool, names: SchemaNames, job: RunningJob, onError?: (error: unknown) => void) {
    this.#pool = pool
    this.#names = names
    this.#job = job
    this.#onError = onError
  }

  /** Validates and records a progress value; resolves once it is written or scheduled. */
  report(value: number | null, meta?: unknown): Promise<void> {
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
      return Promise.reject(
        new PgqValidationError('progress.value', 'must be a finite number or null', value),
      )
    }
    let json: string
    try {
      const body = meta === undefined ? { value } : { value, meta }
      json = serializeJson(body, 'progress', MAX_PROGRESS_BYTES)
    } catch (error) {
      return Promise.reject(error)
    }
    this.#pending = json
    const wait = this.#lastWriteAt + PROGRESS_INTERVAL_MS - performance.now()
    if (wait <= 0) return this.#write()
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        void this.#write().catch(() => {})
      }, wait)
    }
    return Promise.resolve()
  }

  /**
   * Writes the last unwritten value, if any, and waits for writes in flight. Undefined (nothing to
   * await) when this job never reported progress: the common case costs no promise.
   */
  flush(): Promise<void> | undefined {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#pending !== undefined) return this.#write()
    return this.#writing
  }

  #write(): Promise<void> {
    const json = this.#pending
    this.#pending = undefined
    this.#lastWriteAt = performance.now()
    if (json === undefined || this.#job.dropped) return this.#writing ?? Promise.resolve()
    // Progress is best effort: a failed write (database briefly unreachable) must not fail the job,
    // and the next report or the final flush writes the latest value anyway.
    this.#writing = (this.#writing ?? Promise.resolve()).then(async () => {
      try {
        await setProgress(this.#pool, this.#names, {
          id: this.#job.claim.id,
          leaseToken: this.#job.claim.leaseToken,
          progress: json,
        })
      } catch (error) {
        this.#onError?.(error)
      }
    })
    return this.#writing
  }
}
