import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { Listener } from '../notify/listener.js'
import type { WorkerEvents } from './events.js'
import type { HeldJobs } from './held-jobs.js'
import type { JobFetcher } from './job-fetcher.js'
import { poolConnectionString } from './listen-url.js'
import type { WorkerConfig } from './worker-config.js'

/** @internal What the worker's LISTEN connection acts on. */
export interface NotificationRouterOptions {
  readonly config: WorkerConfig
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly connectionString: string | undefined
  readonly fetchers: ReadonlyMap<string, JobFetcher>
  readonly held: HeldJobs
  readonly events: WorkerEvents
  /** The LISTEN connection is (back) up: the database is reachable. */
  readonly onConnected: () => void
}

/**
 * @internal The worker's LISTEN connection and what its notifications do: `<queue>` wakes that
 * queue's fetcher, `<queue>@<epoch ms>` sets its timer for a delayed job, `cancel:<ids>` aborts
 * held jobs' handlers. Returns undefined when the worker polls only (`listen: false`, or no URL).
 *
 * ```ts
 * const listener = createNotificationRouter({ config, pool, names, connectionString, fetchers, held, events, onConnected })
 * await listener?.start()
 * ```
 */
export function createNotificationRouter(options: NotificationRouterOptions): Listener | undefined {
  const { config, names, fetchers, held, events } = options
  const url = config.listenConnectionString ?? options.connectionString ?? poolConnectionString(options.pool)
  if (!config.listen || !url) return undefined
  const route = (channel: string, payload: string): void => {
    if (channel === names.jobsChannel) {
      const at = payload.lastIndexOf('@')
      const fetcher = fetchers.get(at === -1 ? payload : payload.slice(0, at))
      if (!fetcher) return
      if (at === -1) fetcher.wake()
      else fetcher.wakeAt(Number(payload.slice(at + 1)))
    } else if (payload.startsWith('cancel:')) {
      for (const id of payload.slice(7).split(',')) held.get(id)?.abort('cancelled')
    }
  }
  return new Listener({
    connectionString: url,
    channels: [names.jobsChannel, names.eventsChannel],
    logger: config.logger,
    onNotification: route,
    onConnected: () => {
      events.emit('listener:connected', {})
      options.onConnected()
    },
    onDisconnected: (error) => events.emit('listener:disconnected', { error }),
  })
}
