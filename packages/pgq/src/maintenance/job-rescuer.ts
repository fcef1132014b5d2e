import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { rescueExpiredJobs } from '../sql/lease-queries.js'
import { markLostWorkers } from '../sql/worker-status-queries.js'
import { PeriodicService, type Service } from '../worker/service.js'

/** @internal Options of {@link JobRescuer}. */
export interface JobRescuerOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly intervalMs: number
  /** Retention of a job failed for too many interruptions (null: forever). */
  readonly failedRetentionMs: number | null
  /** Jobs were rescued in one pass. */
  readonly onRescued: (counts: { requeued: number; failed: number }) => void
  readonly onError: (component: string, error: unknown) => void
  readonly onSuccess?: () => void
  /** Jobs per statement (default 1,000). */
  readonly batchSize?: number
}

/**
 * @internal Brings back the jobs of dead or stalled workers: running jobs whose lease expired go
 * back to `available` (or to `failed` past their interruption cap), and worker rows with a stale
 * heartbeat are marked `lost` (the pruner deletes them a day later). Any number of rescuers may run at once (`FOR UPDATE SKIP LOCKED`).
 *
 * ```ts
 * const rescuer = new JobRescuer({ pool, names, intervalMs: 5_000, failedRetentionMs: null, onRescued, onError })
 * rescuer.start()
 * ```
 */
export class JobRescuer implements Service {
  readonly #options: JobRescuerOptions
  readonly #service: PeriodicService

  constructor(options: JobRescuerOptions) {
    this.#options = Object.freeze({ batchSize: 1_000, ...options })
    this.#service = new PeriodicService({
      name: 'rescuer',
      intervalMs: options.intervalMs,
      run: async (signal) => {
        await this.rescueOnce(signal)
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

  /** One pass: rescues in batches until a batch comes back short, then marks stale worker rows lost. */
  async rescueOnce(signal?: AbortSignal): Promise<{ requeued: number; failed: number }> {
    const { pool, names, batchSize = 1_000 } = this.#options
    const total = { requeued: 0, failed: 0 }
    while (!signal?.aborted) {
      const counts = await rescueExpiredJobs(pool, names, {
        limit: batchSize,
        failedRetentionMs: this.#options.failedRetentionMs,
      })
      total.requeued += counts.requeued
      total.failed += counts.failed
      if (counts.requeued + counts.failed > 0) this.#options.onRescued(counts)
      if (counts.requeued + counts.failed < batchSize) break
    }
    await markLostWorkers(pool, names)
    return total
  }
}
