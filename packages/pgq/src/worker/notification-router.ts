import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { formatQueueWake, parseJobEvent, parseQueueWake } from '../notify/messages.js'
import type { Notifier } from '../notify/notifier.js'
import { notify } from '../sql/notify-queries.js'
import type { WorkerEvents } from './events.js'
import type { HeldJobs } from './held-jobs.js'
import type { JobFetcher } from './job-fetcher.js'
import type { WakeRanking } from './wake-ranking.js'
import { selectWake } from './wake-selection.js'
import type { WorkerConfig } from './worker-config.js'

/** @internal What the worker's notifications act on. */
export interface NotificationRouterOptions {
  readonly config: WorkerConfig
  readonly names: SchemaNames
  /** Where relayed wake-ups are sent from. */
  readonly pool: pg.Pool
  /** This worker's rank among each queue's workers: which wake-ups are for it. */
  readonly ranking: WakeRanking
  /** The process's notifier (one LISTEN connection shared with result waiting). */
  readonly notifier: Notifier
  readonly fetchers: ReadonlyMap<string, JobFetcher>
  readonly held: HeldJobs
  readonly events: WorkerEvents
  /** The LISTEN connection is (back) up: the database is reachable. */
  readonly onConnected: () => void
  /** `<queue>!`: the queue's flow-control settings changed (pause, resume, limits). */
  readonly onQueueChanged: (queue: string) => void
  readonly onError: (component: string, error: unknown) => void
}

/**
 * @internal Subscribes a worker to the process's notifier: `<queue>` wakes that queue's fetcher
 * when the wake-up is for this worker (at most two workers per wake-up, relayed on when they cannot
 * take all there is: worker/wake-selection.ts), `<queue>@<epoch ms>` sets its timer for a delayed job, `<queue>!` re-reads the queue's
 * flow-control settings (then wakes the fetcher), `cancel:<ids>` aborts held jobs'
 * handlers; a reconnect resumes every fetcher (they may have missed wake-ups). Returns the
 * function that unsubscribes it all.
 *
 * ```ts
 * const unsubscribe = await routeNotifications({ config, names, notifier, fetchers, held, events, onConnected, onQueueChanged })
 * await unsubscribe()
 * ```
 */
export async function routeNotifications(options: NotificationRouterOptions): Promise<() => Promise<void>> {
  const { config, names, notifier, fetchers, held, events, ranking } = options
  const connected = () => {
    events.emit('listener:connected', {})
    ranking.refresh()
    options.onConnected()
  }
  const relay = (queue: string, next: { position: number; hop: number }) => () => {
    notify(options.pool, names.jobsChannel, formatQueueWake({ queue, relay: next })).catch((error: unknown) =>
      options.onError('wake-relay', error),
    )
  }
  const offs: (() => Promise<void> | void)[] = [
    notifier.attachLogger(config.logger),
    notifier.onReconnect(connected),
    notifier.onDisconnect((error) => events.emit('listener:disconnected', { error })),
  ]
  const unsubscribe = async () => {
    for (const off of offs.splice(0).reverse()) await off()
  }
  try {
    offs.push(
      await notifier.subscribe(names.jobsChannel, (payload, senderPid) => {
        const wake = parseQueueWake(payload)
        const fetcher = wake && fetchers.get(wake.queue)
        if (!fetcher) return
        if (wake.settingsChanged) options.onQueueChanged(wake.queue)
        else if (wake.dueAt !== undefined) fetcher.wakeAt(wake.dueAt)
        else {
          const target = selectWake(wake, senderPid, ranking.of(wake.queue))
          if (target.chosen) fetcher.wake(target.next && relay(wake.queue, target.next))
        }
      }),
      await notifier.subscribe(names.eventsChannel, (payload) => {
        const event = parseJobEvent(payload)
        if (event?.kind !== 'cancel') return
        for (const id of event.ids) held.get(id)?.abort('cancelled')
      }),
    )
  } catch (error) {
    await unsubscribe()
    throw error
  }
  if (notifier.connected) events.emit('listener:connected', {})
  return unsubscribe
}
