import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { selectWakeRanks } from '../sql/worker-status-queries.js'
import { PeriodicService, type Service } from './service.js'
import type { WakeRank } from './wake-selection.js'

/** @internal Options of {@link WakeRanking}. */
export interface WakeRankingOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly workerId: string
  readonly queues: readonly string[]
  /** How often the ranks are read again (the worker's heartbeat interval). */
  readonly intervalMs: number
  readonly onError: (component: string, error: unknown) => void
}

/**
 * @internal This worker's rank among the live, listening workers of each of its queues, read from
 * the workers table at start and every heartbeat interval, for {@link selectWake}. Until the first
 * read (or for a queue it could not rank) it has no rank, and every wake-up is for this worker — the
 * behaviour without bounded wake-ups, never a missed one.
 *
 * ```ts
 * const ranking = new WakeRanking({ pool, names, workerId, queues: ['emails'], intervalMs: 5_000, onError })
 * ranking.start()
 * ranking.of('emails') // { rank: 3, size: 10 } once read
 * ```
 */
export class WakeRanking implements Service {
  #ranks = new Map<string, WakeRank>()
  readonly #loop: PeriodicService

  constructor(options: WakeRankingOptions) {
    const { pool, names, workerId, queues } = options
    this.#loop = new PeriodicService({
      name: 'wake-ranking',
      intervalMs: options.intervalMs,
      run: async () => {
        this.#ranks = await selectWakeRanks(pool, names, workerId, queues)
      },
      onError: options.onError,
    })
  }

  /** This worker's rank for `queue`, or undefined while unknown. */
  of(queue: string): WakeRank | undefined {
    return this.#ranks.get(queue)
  }

  start(): void {
    this.#loop.start()
  }

  /** Reads the ranks again now (a worker joined or left, or the listener reconnected). */
  refresh(): void {
    this.#loop.trigger()
  }

  stop(): Promise<void> {
    return this.#loop.stop()
  }
}
