import type pg from 'pg'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import { pruneJobs } from '../sql/admin-queries.js'
import { pruneKeyBuckets } from '../sql/queue-queries.js'
import { pruneGoneWorkers } from '../sql/worker-status-queries.js'
import { pruneEmptyWorkflows } from '../sql/workflow-queries.js'
import { assertInt, MAX_TIMER_MS } from '../util/validate.js'
import { PeriodicService, type Service } from '../worker/service.js'

/**
 * Options of {@link Pruner}.
 *
 * ```ts
 * new Pruner({ pool, schema: 'pgq', onError: (component, error) => console.error(component, error), batchSize: 500 })
 * ```
 */
export interface PrunerOptions {
  readonly pool: pg.Pool
  readonly schema: string
  /** Receives errors of a run (`component` is `'pruner'`); the pruner keeps going. */
  readonly onError: (component: string, error: unknown) => void
  /** Time between runs, in ms (default 30,000). */
  readonly intervalMs?: number
  /** Jobs deleted per statement; each batch commits on its own (default 1,000). */
  readonly batchSize?: number
  /**
   * Largest number of batches in one run, so one run never holds on forever (default 100). A run
   * that reaches it is followed by the next one at once, not after `intervalMs`: deleting keeps
   * pace with however many jobs finish.
   */
  readonly maxBatchesPerRun?: number
}

/**
 * Deletes finished jobs (succeeded, failed, cancelled, expired) whose `delete_after` has passed, in small
 * batches that each commit quickly, then the rows of workers gone for more than 24 hours, then workflows whose nodes are all gone. The worker sets `delete_after` when it finalizes a job (per-state
 * retention); the pruner only deletes what is due. Any number of pruners may run at once: each batch
 * skips rows another one has locked (`FOR UPDATE SKIP LOCKED`).
 *
 * ```ts
 * const pruner = new Pruner({ pool, schema: 'pgq', onError: (c, e) => logger.error(`${c} failed`, { error: String(e) }) })
 * pruner.start()
 * await pruner.stop()
 * ```
 */
export class Pruner implements Service {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #batchSize: number
  readonly #maxBatchesPerRun: number
  readonly #service: PeriodicService
  /** The last run stopped at `maxBatchesPerRun` full batches: more rows are due. */
  #behind = false

  constructor(options: PrunerOptions) {
    const { pool, schema, onError, intervalMs = 30_000, batchSize = 1_000, maxBatchesPerRun = 100 } = options
    if (typeof pool?.query !== 'function') throw new PgqValidationError('pool', 'must be a pg.Pool', pool)
    if (typeof onError !== 'function') throw new PgqValidationError('onError', 'must be a function', onError)
    assertInt(intervalMs, 'intervalMs', 1, MAX_TIMER_MS)
    assertInt(batchSize, 'batchSize', 1, 100_000)
    assertInt(maxBatchesPerRun, 'maxBatchesPerRun', 1, 1_000_000)
    this.#pool = pool
    this.#names = schemaNames(schema)
    this.#batchSize = batchSize
    this.#maxBatchesPerRun = maxBatchesPerRun
    this.#service = new PeriodicService({
      name: 'pruner',
      intervalMs,
      onError,
      run: async (signal) => {
        await this.pruneOnce(signal)
        // a run that stopped at its cap left rows due: go on at once rather than an interval later,
        // or a queue finishing more jobs per interval than one run deletes would grow without end
        if (this.#behind) setImmediate(() => this.#service.trigger())
      },
    })
  }

  start(): void {
    this.#service.start()
  }

  async stop(): Promise<void> {
    await this.#service.stop()
  }

  /**
   * Deletes due jobs batch by batch until a batch comes back short (or `signal` aborts, or the
   * per-run cap is reached), then workers gone for over a day; returns how many jobs it deleted.
   *
   * ```ts
   * const deleted = await pruner.pruneOnce()
   * ```
   */
  async pruneOnce(signal?: AbortSignal): Promise<number> {
    let total = 0
    this.#behind = false
    for (let batch = 0; batch < this.#maxBatchesPerRun && !signal?.aborted; batch++) {
      const deleted = await pruneJobs(this.#pool, this.#names, this.#batchSize)
      total += deleted
      if (deleted < this.#batchSize) break
      if (batch === this.#maxBatchesPerRun - 1) this.#behind = true
    }
    if (!signal?.aborted) await pruneGoneWorkers(this.#pool, this.#names)
    if (!signal?.aborted) await pruneEmptyWorkflows(this.#pool, this.#names, this.#batchSize)
    if (!signal?.aborted) await pruneKeyBuckets(this.#pool, this.#names, this.#batchSize)
    return total
  }
}
