import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import { type ExpiredBatch, expireJobs } from '../sql/expiry-queries.js'
import { assertInt, MAX_TIMER_MS } from '../util/validate.js'
import { PeriodicService, type Service } from '../worker/service.js'

/** @internal Options of {@link JobExpirer}. */
export interface JobExpirerOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  /** Time between passes, in ms. */
  readonly intervalMs: number
  /** Retention of an expired job, in ms (null: forever). */
  readonly retentionMs: number | null
  /** Jobs were expired by one batch (called once per batch that expired any). */
  readonly onExpired: (batch: ExpiredBatch) => void
  readonly onError: (component: string, error: unknown) => void
  readonly onSuccess?: () => void
  /** Jobs per statement; each batch commits on its own (default 1,000). */
  readonly batchSize?: number
}

/**
 * @internal Ends overdue waiting jobs: an `available` job whose deadline (`expires_at`) passed
 * before any worker started it becomes `expired` (a final state), in batches that each commit on
 * their own, the most overdue first. The claims already skip such jobs; the expirer is what finishes them, announces them
 * to waiters and counts them down in their workflows. Any number of expirers may run at once
 * (`FOR UPDATE SKIP LOCKED`). A pass is one probe of the partial index `jobs_expires_idx` when
 * nothing is due.
 *
 * ```ts
 * const expirer = new JobExpirer({ pool, names, intervalMs: 1_000, retentionMs: null, onExpired, onError })
 * expirer.start()
 * await expirer.stop()
 * ```
 */
export class JobExpirer implements Service {
  readonly #options: JobExpirerOptions
  readonly #batchSize: number
  readonly #service: PeriodicService

  constructor(options: JobExpirerOptions) {
    if (typeof options.onExpired !== 'function')
      throw new PgqValidationError('onExpired', 'must be a function', options.onExpired)
    assertInt(options.intervalMs, 'intervalMs', 10, MAX_TIMER_MS)
    this.#batchSize = assertInt(options.batchSize ?? 1_000, 'batchSize', 1, 100_000)
    this.#options = options
    this.#service = new PeriodicService({
      name: 'expirer',
      intervalMs: options.intervalMs,
      run: async (signal) => {
        await this.expireOnce(signal)
      },
      onError: options.onError,
      ...(options.onSuccess ? { onSuccess: options.onSuccess } : {}),
    })
  }

  start(): void {
    this.#service.start()
  }

  stop(): Promise<void> {
    return this.#service.stop()
  }

  /**
   * One pass: expires due jobs batch by batch until a batch comes back short (or `signal` aborts);
   * returns how many jobs it expired.
   *
   * ```ts
   * const expired = await expirer.expireOnce()
   * ```
   */
  async expireOnce(signal?: AbortSignal): Promise<number> {
    const { pool, names, retentionMs } = this.#options
    let total = 0
    while (!signal?.aborted) {
      const batch = await expireJobs(pool, names, { limit: this.#batchSize, retentionMs })
      total += batch.expired
      if (batch.expired > 0) this.#options.onExpired(batch)
      if (batch.expired < this.#batchSize) break
    }
    return total
  }
}
