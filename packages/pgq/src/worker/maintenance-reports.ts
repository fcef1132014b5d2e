import type { Logger } from '../logger.js'
import type { MaintenanceGroupOptions } from '../maintenance/maintenance-group.js'
import type { WorkerEvents } from './events.js'

/**
 * @internal How a worker reports what its maintenance loops did: an event for programs
 * (`maintenance:rescued`, `maintenance:expired`) and a log line for operators, per batch.
 *
 * ```ts
 * new MaintenanceGroup({ pool, names, config, ...maintenanceReports(worker, config.logger), onError, onSuccess })
 * ```
 */
export function maintenanceReports(
  events: WorkerEvents,
  logger: Logger,
): Pick<MaintenanceGroupOptions, 'onRescued' | 'onExpired'> {
  return {
    onRescued: (counts) => {
      events.emit('maintenance:rescued', counts)
      logger.info('rescued jobs with expired leases', counts)
    },
    onExpired: (batch) => {
      events.emit('maintenance:expired', { expired: batch.expired, byQueue: batch.byQueue })
      const queues = Object.entries(batch.byQueue).map(([queue, n]) => `${queue}:${n}`)
      logger.info('expired jobs past their deadline', { expired: batch.expired, queues: queues.join(',') })
    },
  }
}
