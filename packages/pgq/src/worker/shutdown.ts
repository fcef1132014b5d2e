import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import type { Logger } from '../logger.js'
import type { ClaimedJob } from '../sql/worker-queries.js'
import { markWorkerStopped } from '../sql/worker-status-queries.js'
import { settleWithin } from '../util/deadline.js'
import type { WorkerEvents } from './events.js'
import type { HeldJobs } from './held-jobs.js'
import type { JobCompleter } from './job-completer.js'
import type { JobExecutor } from './job-executor.js'
import type { JobFetcher } from './job-fetcher.js'
import { releaseDropped } from './job-release.js'
import type { Service } from './service.js'

/**
 * Most time the database steps of each shutdown phase may take (before the grace period: stop
 * claiming, release jobs claimed ahead; after it: write outcomes, release, deregister).
 */
export const SHUTDOWN_PHASE_MS = 5_000

/** @internal The parts of a worker its graceful stop goes through. */
export interface ShutdownParts {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly workerId: string
  readonly events: WorkerEvents
  readonly logger: Logger
  /** Rescuer, expirer, pruner, scheduler: stopped first (a tick fired now might find no claimer left). */
  readonly maintenance: Service | undefined
  /** Stops claiming through `claim_limited()` (its timers). */
  readonly stopLimits: () => void
  readonly fetchers: readonly JobFetcher[]
  readonly held: HeldJobs
  readonly executor: Pick<JobExecutor, 'close'>
  readonly completer: Pick<JobCompleter, 'stop'>
  /** The loops that run while jobs are held (lease renewer, wake ranking): stopped after the last write. */
  readonly loops: readonly Service[]
  readonly unsubscribe: (() => Promise<void>) | undefined
  readonly onError: (error: unknown) => void
}

/**
 * @internal A worker's graceful stop, in order: stop the maintenance and the fetchers, give back
 * the jobs claimed ahead; wait up to `graceMs` for running jobs; abort the rest (killing handler
 * threads and processes) and give them back without charging an attempt; write buffered outcomes;
 * stop the heartbeat; unsubscribe; deregister. Each phase's database steps get at most
 * {@link SHUTDOWN_PHASE_MS}: behind a network black hole a query never answers and the stop must
 * still end — what it did not do is done by others (leases expire, rescuers requeue the jobs and
 * mark the worker row lost).
 *
 * ```ts
 * await shutDown({ pool, names, workerId, events, logger, maintenance, stopLimits, fetchers, held, executor, completer, loops, unsubscribe, onError }, 10_000)
 * ```
 */
export async function shutDown(parts: ShutdownParts, graceMs: number): Promise<void> {
  const { pool, names, held, onError } = parts
  const bounded = async (step: string, work: Promise<unknown> | undefined, deadline: number) => {
    if (!work || (await settleWithin(work, Math.max(0, deadline - Date.now())))) return
    parts.logger.warn(`shutdown: ${step} timed out; going on`, { worker: parts.workerId })
  }
  let deadline = Date.now() + SHUTDOWN_PHASE_MS
  await bounded('stopping maintenance', parts.maintenance?.stop(), deadline)
  const notStarted: ClaimedJob[] = []
  parts.stopLimits()
  const stopping = parts.fetchers.map(async (f) => void notStarted.push(...(await f.stop())))
  await bounded('stopping the fetchers', Promise.all(stopping), deadline)
  const prefetched = held.dropAll(
    notStarted.map((claim) => held.get(claim.id)),
    'shutdown',
  )
  const giveBack = releaseDropped(pool, names, prefetched, parts.events, onError)
  await bounded('releasing jobs claimed ahead', giveBack, deadline)

  let graceTimer: NodeJS.Timeout | undefined
  const grace = new Promise<void>((resolve) => {
    graceTimer = setTimeout(resolve, graceMs)
  })
  await Promise.race([held.whenNoneRunning(), grace])
  clearTimeout(graceTimer)
  const unfinished = held.dropAll(held.inState('running'), 'shutdown')
  // kill handler threads/processes before their jobs are released to run elsewhere
  await parts.executor.close()

  deadline = Date.now() + SHUTDOWN_PHASE_MS
  await parts.completer.stop(SHUTDOWN_PHASE_MS)
  const release = releaseDropped(pool, names, unfinished, parts.events, onError)
  await bounded('releasing unfinished jobs', release, deadline)
  await bounded('stopping the heartbeat', Promise.all(parts.loops.map((loop) => loop.stop())), deadline)
  await bounded('unsubscribing', parts.unsubscribe?.(), deadline)
  await bounded('deregistering', markWorkerStopped(pool, names, parts.workerId).catch(onError), deadline)
}
