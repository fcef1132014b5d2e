import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { ScheduleEnqueuer } from '../schedule/schedule-enqueuer.js'
import type { ExpiredBatch } from '../sql/expiry-queries.js'
import type { Service } from '../worker/service.js'
import type { WorkerConfig } from '../worker/worker-config.js'
import { JobExpirer } from './job-expirer.js'
import { JobRescuer } from './job-rescuer.js'
import { Pruner } from './pruner.js'

/** @internal What the maintenance group needs from its worker. */
export interface MaintenanceGroupOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly config: WorkerConfig
  readonly onRescued: (counts: { requeued: number; failed: number }) => void
  readonly onExpired: (batch: ExpiredBatch) => void
  readonly onError: (component: string, error: unknown) => void
  readonly onSuccess: () => void
}

/**
 * @internal The loops a worker runs for the whole queue rather than for its own jobs, built in
 * one place from the worker's config: the job rescuer, the job expirer and the pruner (when `maintenance` is on)
 * and the schedule enqueuer (unless `scheduler: false`). Each of them is safe to run in any number
 * of workers at once.
 *
 * ```ts
 * const maintenance = new MaintenanceGroup({ pool, names, config, onRescued, onExpired, onError, onSuccess })
 * await maintenance.start()
 * ```
 */
export class MaintenanceGroup implements Service {
  readonly #services: Service[] = []

  constructor(options: MaintenanceGroupOptions) {
    const { pool, names, config, onError, onSuccess } = options
    if (config.maintenance) {
      this.#services.push(
        new JobRescuer({
          pool,
          names,
          intervalMs: config.rescueIntervalMs,
          failedRetentionMs: config.retention.failed,
          onRescued: options.onRescued,
          onError,
          onSuccess,
        }),
        new JobExpirer({
          pool,
          names,
          intervalMs: config.expireIntervalMs,
          retentionMs: config.retention.expired,
          onExpired: options.onExpired,
          onError,
          onSuccess,
        }),
        new Pruner({
          pool,
          schema: names.schema,
          onError,
          ...(config.pruneIntervalMs ? { intervalMs: config.pruneIntervalMs } : {}),
        }),
      )
    }
    if (config.scheduler) {
      this.#services.push(
        new ScheduleEnqueuer({
          pool,
          schema: names.schema,
          logger: config.logger,
          onError,
          ...(config.schedules
            ? { schedules: config.schedules, knownTasks: new Set(config.tasks.keys()) }
            : {}),
        }),
      )
    }
  }

  /** How many loops this group runs (rescuer, expirer, pruner, scheduler: 0 to 4). */
  get size(): number {
    return this.#services.length
  }

  async start(): Promise<void> {
    for (const service of this.#services) await service.start()
  }

  async stop(): Promise<void> {
    await Promise.all(this.#services.map((service) => service.stop()))
  }
}
