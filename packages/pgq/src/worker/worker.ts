import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type pg from 'pg'
import { checkPooler } from '../db/pooler-probe.js'
import type { SchemaNames } from '../db/schema-names.js'
import { StatementMode } from '../db/statement-mode.js'
import { Migrator } from '../migrate/migrator.js'
import { listenUrlOf } from '../notify/listen-url.js'
import { parseJobEvent, parseQueueWake } from '../notify/messages.js'
import type { Notifier } from '../notify/notifier.js'
import {
  type ClaimedJobRow,
  claimJobs,
  deleteStaleWorkers,
  deleteWorker,
  type FinalizeItem,
  releaseJobs,
  renewLeases,
  rescueExpiredJobs,
  upsertWorker,
} from '../sql/worker-queries.js'
import { WorkerEvents } from './events.js'
import { JobCompleter } from './job-completer.js'
import { JobExecutor } from './job-executor.js'
import { JobFetcher } from './job-fetcher.js'
import { RunningJob } from './running-job.js'
import { PeriodicService, type Service } from './service.js'
import { resolveWorkerConfig, type WorkerConfig, type WorkerOptions } from './worker-config.js'

/** @internal What a worker needs from its pgq client. */
export interface WorkerDeps {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  /** The client's notifier (one LISTEN connection per process); none when no URL is known. */
  readonly notifier: Notifier | undefined
  readonly maxPayloadBytes: number
  /** Extra services to run with the worker (scheduler, pruner), built by the pgq client. */
  readonly extraServices?: (worker: Worker) => Service[]
}

/** Completion outcomes buffered beyond this stop further claims until they are written. */
const MAX_COMPLETION_BACKLOG = 5_000

/**
 * Runs jobs: claims them from its queues, runs their handlers with leases, retries, time limits
 * and cancellation, and writes their outcomes. Create it with `pgq.createWorker()`.
 *
 * ```ts
 * const worker = pgq.createWorker({ tasks: [sendEmail, processVideo], queues: { emails: 20, video: 2 } })
 * await worker.start()
 * process.on('SIGTERM', () => worker.stop())
 * ```
 */
export class Worker extends WorkerEvents {
  /** Random per process start; `jobs.locked_by` and `workers.id`. */
  readonly id = randomUUID()
  readonly config: WorkerConfig
  readonly #deps: WorkerDeps
  readonly #held = new Map<string, RunningJob>()
  readonly #fetchers = new Map<string, JobFetcher>()
  readonly #executor: JobExecutor
  readonly #completer: JobCompleter
  readonly #services: Service[] = []
  readonly #unsubscribe: (() => Promise<void> | void)[] = []
  /** Named prepared statements for claims and outcomes, or not behind a pooler that loses them. */
  readonly #statements: StatementMode
  readonly #probePooler: boolean
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #stopping: Promise<void> | undefined

  /** @internal use `pgq.createWorker()` */
  constructor(options: WorkerOptions, deps: WorkerDeps) {
    super()
    this.config = resolveWorkerConfig(options)
    this.#deps = deps
    this.#statements = new StatementMode(this.config.preparedStatements, this.config.logger)
    this.#probePooler = options.preparedStatements === undefined
    this.#executor = new JobExecutor({
      config: this.config,
      pool: deps.pool,
      names: deps.names,
      events: this,
      maxPayloadBytes: deps.maxPayloadBytes,
      onError: (component, error) => this.reportError(component, error),
    })
    this.#completer = new JobCompleter({
      pool: deps.pool,
      names: deps.names,
      maxErrorsKept: this.config.maxErrorsKept,
      preparedStatements: this.#statements,
      onWritten: (item, written) => this.#onWritten(item, written),
      onError: (component, error) => this.reportError(component, error),
    })
    const tasks = [...this.config.tasks.keys()]
    for (const [queue, concurrency] of this.config.queues) {
      this.#fetchers.set(
        queue,
        new JobFetcher({
          queue,
          concurrency,
          pollIntervalMs: this.config.pollIntervalMs,
          claim: (limit) =>
            this.#statements.run((prepared) =>
              claimJobs(
                deps.pool,
                deps.names,
                { queue, limit, workerId: this.id, leaseMs: this.config.leaseMs, tasks },
                prepared,
              ),
            ),
          prefetchWindowMs: this.config.prefetchWindowMs,
          onClaimed: (rows) => this.#claimed(rows),
          onStart: (row) => this.#start(row),
          canClaim: () => this.#state === 'running' && this.#completer.backlog < MAX_COMPLETION_BACKLOG,
          onError: (component, error) => this.reportError(component, error),
        }),
      )
    }
  }

  /** Jobs this worker holds right now (running, or finished and not yet written). */
  get heldJobs(): number {
    return this.#held.size
  }

  /**
   * Checks the schema version, registers the worker, starts listening, claiming and the
   * maintenance loops. Throws `PgqSchemaVersionError` when the schema is not migrated.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('a worker can be started once')
    const { pool, names } = this.#deps
    await new Migrator({ pool, schema: names.schema }).assertCurrent()
    if (this.#probePooler) {
      const prepared = await checkPooler(pool, {
        logger: this.config.logger,
        listensThroughPool: this.config.listen && this.#deps.notifier?.connectionString === listenUrlOf(pool),
      })
      if (!prepared) this.#statements.disable()
    }
    const queues = [...this.config.queues.keys()]
    await upsertWorker(pool, names, {
      id: this.id,
      hostname: hostname(),
      pid: process.pid,
      queues,
      concurrency: [...this.config.queues.values()].reduce((a, b) => a + b, 0),
    })
    this.#state = 'running'
    this.#completer.start()
    const onError = (component: string, error: unknown) => this.reportError(component, error)
    this.#services.push(
      new PeriodicService({
        name: 'heartbeat',
        intervalMs: this.config.heartbeatMs,
        jitter: 0,
        runAtStart: false,
        run: () => this.#heartbeat(),
        onError,
      }),
    )
    if (this.config.maintenance) {
      this.#services.push(
        new PeriodicService({
          name: 'rescuer',
          intervalMs: this.config.rescueIntervalMs,
          run: () => this.#rescue(),
          onError,
        }),
      )
    }
    this.#services.push(...(this.#deps.extraServices?.(this) ?? []))
    if (this.config.listen && this.#deps.notifier) await this.#subscribe(this.#deps.notifier)
    for (const service of this.#services) await service.start()
    for (const fetcher of this.#fetchers.values()) fetcher.start()
    this.config.logger.info('worker started', { worker: this.id, queues: queues.join(',') })
    this.emit('worker:started', { workerId: this.id })
  }

  /**
   * Graceful stop: claim nothing more, let running jobs finish for up to `shutdownGraceMs`, then
   * abort the rest and release them (no attempt spent) so another worker takes them at once; write
   * buffered outcomes, deregister, stop the loops. Idempotent.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.graceMs ?? this.config.shutdownGraceMs)
    return this.#stopping
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped'
      return
    }
    this.#state = 'stopping'
    const notStarted = (await Promise.all([...this.#fetchers.values()].map((f) => f.stop()))).flat()
    if (notStarted.length > 0)
      await this.#release(notStarted.map((row) => this.#held.get(row.id)!).filter(Boolean))
    const grace = new Promise<'grace-over'>((resolve) =>
      setTimeout(() => resolve('grace-over'), graceMs).unref(),
    )
    await Promise.race([Promise.all([...this.#held.values()].map((job) => job.done)), grace])
    const unfinished = [...this.#held.values()].filter((job) => !job.dropped && !job.settled)
    for (const job of unfinished) {
      job.dropped = true
      job.abort('shutdown')
    }
    await this.#completer.stop()
    if (unfinished.length > 0) await this.#release(unfinished)
    for (const service of this.#services) await service.stop()
    for (const unsubscribe of this.#unsubscribe.splice(0)) await unsubscribe()
    await deleteWorker(this.#deps.pool, this.#deps.names, this.id).catch((error) =>
      this.reportError('shutdown', error),
    )
    this.#state = 'stopped'
    this.config.logger.info('worker stopped', { worker: this.id })
    this.emit('worker:stopped', { workerId: this.id })
  }

  /** Gives jobs back without charging an attempt, so another worker takes them at once. */
  async #release(jobs: RunningJob[]): Promise<void> {
    for (const job of jobs) job.dropped = true
    try {
      await releaseJobs(this.#deps.pool, this.#deps.names, {
        ids: jobs.map((j) => j.row.id),
        tokens: jobs.map((j) => j.row.lease_token),
      })
      for (const job of jobs) {
        this.#held.delete(job.row.id)
        this.emit('job:released', { job: job.info })
      }
    } catch (error) {
      this.reportError('shutdown', error) // their leases expire and the rescuer requeues them
    }
  }

  /** Claimed jobs are held (their leases renewed by the heartbeat) from the claim on. */
  #claimed(rows: ClaimedJobRow[]): void {
    for (const row of rows) this.#held.set(row.id, new RunningJob(row))
  }

  /** Runs a held job; false when it is no longer held (its lease was lost while it waited). */
  #start(row: ClaimedJobRow): boolean {
    const job = this.#held.get(row.id)
    if (!job || job.dropped) return false
    job.markStarted()
    job.done = this.#executor.execute(job).then((item) => {
      job.settled = true
      this.#fetchers.get(row.queue)?.slotFreed()
      if (item) this.#completer.push(item)
      else this.#held.delete(row.id)
    })
    return true
  }

  #onWritten(item: FinalizeItem, written: boolean): void {
    const job = this.#held.get(item.id)
    this.#held.delete(item.id)
    if (!written && job) {
      job.abort('lease-lost')
      this.emit('job:lease-lost', { job: job.info })
      this.config.logger.warn('job outcome dropped: lease lost', { job: item.id, task: job.info.task })
    }
  }

  async #heartbeat(): Promise<void> {
    const jobs = [...this.#held.values()]
    const renewed = await renewLeases(this.#deps.pool, this.#deps.names, {
      workerId: this.id,
      ids: jobs.map((j) => j.row.id),
      tokens: jobs.map((j) => j.row.lease_token),
      leaseMs: this.config.leaseMs,
    })
    const alive = new Map(renewed.map((r) => [r.id, r.cancel_requested]))
    for (const job of jobs) {
      if (!this.#held.has(job.row.id)) continue // finished while the heartbeat ran
      const cancel = alive.get(job.row.id)
      if (cancel === undefined) {
        if (job.settled) continue // its outcome write decides
        job.dropped = true
        job.abort('lease-lost')
        this.#held.delete(job.row.id)
        this.emit('job:lease-lost', { job: job.info })
        this.config.logger.warn('lease lost; the handler was aborted', {
          job: job.row.id,
          task: job.info.task,
        })
      } else if (cancel) {
        job.abort('cancelled')
      }
    }
  }

  async #rescue(): Promise<void> {
    const { pool, names } = this.#deps
    for (;;) {
      const counts = await rescueExpiredJobs(pool, names, {
        limit: 1000,
        failedRetentionMs: this.config.retention.failed,
      })
      if (counts.requeued + counts.failed > 0) {
        this.emit('maintenance:rescued', counts)
        this.config.logger.info('rescued jobs with expired leases', counts)
      }
      if (counts.requeued + counts.failed < 1000) break
    }
    await deleteStaleWorkers(pool, names, Math.max(this.config.leaseMs * 4, 60_000))
  }

  /** Queue wake-ups and cancellations from the process's notifier; after a reconnect, every fetcher claims. */
  async #subscribe(notifier: Notifier): Promise<void> {
    const { names } = this.#deps
    const wakeAll = () => {
      for (const fetcher of this.#fetchers.values()) fetcher.wake()
    }
    this.#unsubscribe.push(
      notifier.attachLogger(this.config.logger),
      notifier.onReconnect(() => {
        this.emit('listener:connected', {})
        wakeAll()
      }),
      notifier.onDisconnect((error) => this.emit('listener:disconnected', { error })),
    )
    this.#unsubscribe.push(
      await notifier.subscribe(names.jobsChannel, (payload) => {
        const wake = parseQueueWake(payload)
        const fetcher = wake && this.#fetchers.get(wake.queue)
        if (!fetcher) return
        if (wake.dueAt === undefined) fetcher.wake()
        else fetcher.wakeAt(wake.dueAt)
      }),
      await notifier.subscribe(names.eventsChannel, (payload) => {
        const event = parseJobEvent(payload)
        if (event?.kind !== 'cancel') return
        for (const id of event.ids) this.#held.get(id)?.abort('cancelled')
      }),
    )
    if (notifier.connected) this.emit('listener:connected', {})
  }

  /** @internal Reports an error of a background component as a log line and a `worker:error` event. */
  reportError(component: string, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error))
    this.config.logger.error(`${component} error`, { error: err.message })
    this.emit('worker:error', { component, error: err })
  }
}
