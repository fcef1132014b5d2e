import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type pg from 'pg'
import { checkPooler } from '../db/pooler-probe.js'
import type { SchemaNames } from '../db/schema-names.js'
import { StatementMode } from '../db/statement-mode.js'
import { PgqSchemaVersionError } from '../errors.js'
import { MaintenanceGroup } from '../maintenance/maintenance-group.js'
import { Migrator } from '../migrate/migrator.js'
import { listenUrlOf } from '../notify/listen-url.js'
import type { Notifier } from '../notify/notifier.js'
import { upsertWorker, type WorkerRow } from '../sql/lease-queries.js'
import { claimLimitedJobs } from '../sql/queue-queries.js'
import { registerTasks } from '../sql/task-queries.js'
import { claimJobs } from '../sql/worker-queries.js'
import type { Tracing } from '../tracing/tracing.js'
import { OutageLog } from '../util/outage-log.js'
import { WorkerEvents } from './events.js'
import { readHealth, type WorkerHealth } from './health.js'
import { HeldJobs } from './held-jobs.js'
import { JobCompleter } from './job-completer.js'
import { JobExecutor } from './job-executor.js'
import { JobFetcher } from './job-fetcher.js'
import { type LeaseLostReason, LeaseRenewer } from './lease-renewer.js'
import { type WorkerHandle, WorkerLifetime } from './lifetime.js'
import { maintenanceReports } from './maintenance-reports.js'
import { routeNotifications } from './notification-router.js'
import { announceOutcome, spanOutcome } from './outcome.js'
import { QueueLimits } from './queue-limits.js'
import type { RunningJob } from './running-job.js'
import { shutDown } from './shutdown.js'
import { WakeRanking } from './wake-ranking.js'
import { resolveWorkerConfig, type WorkerConfig, type WorkerOptions } from './worker-config.js'

/** @internal What a worker needs from its pgq client. */
export interface WorkerDeps {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  /** The client's notifier (one LISTEN connection per process); none when no URL is known. */
  readonly notifier: Notifier | undefined
  readonly maxPayloadBytes: number
  readonly tracing: Tracing
}

/** Completion outcomes buffered beyond this stop further claims until they are written. */
const MAX_COMPLETION_BACKLOG = 5_000

/**
 * Runs jobs: claims them from its queues, runs their handlers with leases, retries, time limits
 * and cancellation, and writes their outcomes. Create it with `pgq.createWorker()`. It is the
 * composition root of the worker's parts — fetchers claim into {@link HeldJobs}, the executor runs
 * a job to a typed outcome, the completer writes it, the lease renewer keeps held jobs' leases,
 * and the maintenance group (rescuer, expirer, pruner, scheduler) looks after the whole queue.
 *
 * ```ts
 * const worker = pgq.createWorker({ tasks: [sendEmail, processVideo], queues: { emails: 20, video: 2 } })
 * const { closed } = await worker.start()
 * process.on('SIGTERM', () => worker.stop())
 * await closed // until stopped
 * ```
 */
export class Worker extends WorkerEvents {
  /** Random per process start; `jobs.locked_by` and `workers.id`. */
  readonly id = randomUUID()
  readonly config: WorkerConfig
  readonly #deps: WorkerDeps
  readonly #row: WorkerRow
  readonly #held = new HeldJobs((job) => this.#leaseLost(job, 'reclaimed'))
  readonly #fetchers = new Map<string, JobFetcher>()
  readonly #limits: QueueLimits
  readonly #executor: JobExecutor
  readonly #completer: JobCompleter
  readonly #renewer: LeaseRenewer
  readonly #ranking: WakeRanking
  readonly #outage: OutageLog
  readonly #lifetime = new WorkerLifetime()
  #maintenance: MaintenanceGroup | undefined
  #unsubscribe: (() => Promise<void>) | undefined
  /** Named prepared statements for claims and outcomes, or not behind a pooler that loses them. */
  readonly #statements: StatementMode
  readonly #probePooler: boolean
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #stopping: Promise<void> | undefined
  /** Set when the worker stops itself; `closed` rejects with it. */
  #fatal: Error | undefined
  /** An idle pooled connection that dies (server restart) is an outage, never a crash. */
  readonly #onPoolError = (error: Error) => this.reportError('pool', error)

  /** @internal use `pgq.createWorker()` */
  constructor(options: WorkerOptions, deps: WorkerDeps) {
    super()
    const config = resolveWorkerConfig(options)
    this.config = config
    this.#deps = deps
    const { pool, names } = deps
    const onError = (component: string, error: unknown) => this.reportError(component, error)
    const onSuccess = () => this.#outage.succeeded()
    this.#outage = new OutageLog({ logger: config.logger, onRecovered: (ms) => this.#recovered(ms) })
    this.#row = Object.freeze({
      id: this.id,
      hostname: hostname(),
      pid: process.pid,
      queues: Object.freeze([...config.queues.keys()]),
      concurrency: [...config.queues.values()].reduce((a, b) => a + b, 0),
      heartbeatMs: config.heartbeatMs,
      rankedWake: config.listen && deps.notifier !== undefined,
    })
    this.#executor = new JobExecutor({
      config,
      pool,
      names,
      events: this,
      maxPayloadBytes: deps.maxPayloadBytes,
      onError,
    })
    const statements = new StatementMode(config.preparedStatements, config.logger)
    this.#statements = statements
    this.#probePooler = options.preparedStatements === undefined
    const { maxErrorsKept, synchronousCommit } = config
    this.#completer = new JobCompleter({
      pool,
      names,
      maxErrorsKept,
      synchronousCommit,
      preparedStatements: statements,
      onError,
      onSuccess,
      // the fetchers held back by a large backlog were freed while it grew: wake them as it clears
      onWritten: (backlog) => {
        if (backlog < MAX_COMPLETION_BACKLOG) for (const fetcher of this.#fetchers.values()) fetcher.unblock()
      },
    })
    this.#renewer = new LeaseRenewer({
      pool,
      names,
      worker: this.#row,
      held: this.#held,
      leaseMs: config.leaseMs,
      intervalMs: config.heartbeatMs,
      onLeaseLost: (job, reason) => this.#leaseLost(job, reason),
      onError,
      onSuccess,
    })
    this.#ranking = new WakeRanking({
      ...{ pool, names, workerId: this.id, queues: this.#row.queues, intervalMs: config.heartbeatMs },
      onError,
    })
    this.#limits = new QueueLimits({
      ...{ pool, names, workerId: this.id, leaseMs: config.leaseMs, refreshMs: config.heartbeatMs },
      ...{ queues: this.#row.queues, tasks: [...config.tasks.keys()] },
      plain: (params) =>
        statements.run((prepared) =>
          claimJobs(pool, names, { ...params, synchronousCommit: config.synchronousCommit }, prepared),
        ),
      limited: (params) => statements.run((prepared) => claimLimitedJobs(pool, names, params, prepared)),
      onChanged: (queue) => this.#fetchers.get(queue)?.wake(),
      onRetryAt: (queue, at) => this.#fetchers.get(queue)?.wakeAt(at),
      onError,
    })
    const fetcherOptions = {
      pollIntervalMs: config.pollIntervalMs,
      prefetchWindowMs: config.prefetchWindowMs,
      held: this.#held,
      run: (job: RunningJob) => void this.#process(job),
      canClaim: () => this.#state === 'running' && this.#completer.backlog < MAX_COMPLETION_BACKLOG,
      onError,
      onSuccess,
    }
    for (const [queue, concurrency] of config.queues) {
      const claim = (limit: number) => this.#limits.claim(queue, limit)
      this.#fetchers.set(queue, new JobFetcher({ queue, concurrency, claim, ...fetcherOptions }))
    }
  }

  /** Jobs this worker holds right now (running, or finished and not yet written). */
  get heldJobs(): number {
    return this.#held.size
  }

  /** Whether the worker runs and reaches its database, for health probes (see {@link WorkerHealth}). */
  get health(): WorkerHealth {
    return readHealth(this.#state, this.#outage, this.config.heartbeatMs, this.#fatal)
  }

  /** Settles when the worker has stopped (see {@link WorkerHandle}). */
  get closed(): Promise<void> {
    return this.#lifetime.closed
  }

  /**
   * Checks the schema version, registers the worker, starts listening, claiming and the
   * maintenance loops. Throws `PgqSchemaVersionError` when the schema is not migrated. From here
   * on the worker keeps the process alive and runs until `stop()`, through any loss of the
   * database (it retries with backoff and resumes on its own).
   */
  async start(): Promise<WorkerHandle> {
    if (this.#state !== 'new') throw new Error('a worker can be started once')
    const { pool, names } = this.#deps
    await this.#deps.tracing.settled() // the optional OpenTelemetry API, imported once
    await new Migrator({ pool, schema: names.schema }).assertCurrent()
    const listensThroughPool =
      this.config.listen && this.#deps.notifier?.connectionString === listenUrlOf(pool)
    const prepared =
      !this.#probePooler || (await checkPooler(pool, { logger: this.config.logger, listensThroughPool }))
    if (!prepared) this.#statements.disable() // behind a transaction-mode pooler: unnamed statements
    await upsertWorker(pool, names, this.#row)
    this.#outage.succeeded() // the database answered: ready from here on
    this.#maintenance = new MaintenanceGroup({
      pool,
      names,
      config: this.config,
      ...maintenanceReports(this, this.config.logger),
      onError: (component, error) => this.reportError(component, error),
      onSuccess: () => this.#outage.succeeded(),
    })
    await registerTasks(pool, names, this.config.tasks.values(), { workerId: this.id, hostname: hostname() })
    await this.#limits.refresh()
    this.#state = 'running'
    this.#lifetime.begin()
    pool.on('error', this.#onPoolError)
    try {
      this.#executor.warm()
      this.#completer.start()
      this.#renewer.start()
      if (this.#row.rankedWake) this.#ranking.start()
      const { notifier } = this.#deps
      if (this.config.listen && notifier) {
        this.#unsubscribe = await routeNotifications({
          config: this.config,
          names,
          pool,
          ranking: this.#ranking,
          onError: (component, error) => this.reportError(component, error),
          notifier,
          fetchers: this.#fetchers,
          held: this.#held,
          events: this,
          onConnected: () => {
            this.#outage.succeeded()
            for (const fetcher of this.#fetchers.values()) fetcher.resume()
            this.#limits.changed()
          },
          onQueueChanged: (queue) => this.#limits.changed(queue),
        })
      }
      await this.#maintenance.start()
    } catch (error) {
      await this.stop({ graceMs: 0 }) // e.g. code schedules the database refused: nothing left running
      throw error
    }
    this.#limits.start()
    for (const fetcher of this.#fetchers.values()) fetcher.start()
    this.config.logger.info('worker started', { worker: this.id, queues: this.#row.queues.join(',') })
    this.emit('worker:started', { workerId: this.id })
    return { closed: this.closed }
  }

  /**
   * Graceful stop: claim nothing more, let running jobs finish for up to `shutdownGraceMs`, then
   * abort the rest and release them (no attempt spent) so another worker takes them at once; write
   * buffered outcomes, deregister, stop the loops. Idempotent. `closed` resolves once it is done.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.graceMs ?? this.config.shutdownGraceMs).then(() =>
      this.#lifetime.end(this.#fatal),
    )
    return this.#stopping
  }

  /** claim → execute → complete → announce, for one job the fetcher started, in its span. Never throws. */
  async #process(job: RunningJob): Promise<void> {
    const span = this.#deps.tracing.startRun(job.info, job.claim.trace)
    try {
      const outcome = await this.#executor.execute(job, span)
      const durationMs = performance.now() - job.startedAt
      this.#fetchers.get(job.claim.queue)?.slotFreed(durationMs)
      this.emit('job:end', { job: job.info, durationMs })
      if (!outcome || !this.#held.settle(job)) {
        this.#held.finish(job) // dropped (lease lost, shutdown): nothing to write
        return void span?.end(job.abortReason === 'shutdown' ? 'released' : 'lease-lost')
      }
      const written = await this.#completer.complete(job.claim, outcome)
      this.#held.finish(job)
      this.#limits.slotWritten(job.claim.queue)
      span?.end(...spanOutcome(outcome, written))
      if (written === 'fenced') this.#leaseLost(job, 'outcome-fenced')
      else if (written !== 'abandoned') announceOutcome(this, job.info, outcome, written, durationMs)
    } catch (error) {
      span?.end('abandoned')
      this.reportError('executor', error)
    }
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped'
      return
    }
    this.#state = 'stopping'
    const { pool, names } = this.#deps
    const parts = { pool, names, workerId: this.id, events: this, logger: this.config.logger }
    await shutDown(
      {
        ...{ ...parts, maintenance: this.#maintenance, stopLimits: () => this.#limits.stop() },
        ...{ fetchers: [...this.#fetchers.values()], held: this.#held, executor: this.#executor },
        ...{
          completer: this.#completer,
          loops: [this.#renewer, this.#ranking],
          unsubscribe: this.#unsubscribe,
        },
        onError: (error) => this.reportError('shutdown', error), // leases expire, rescuers requeue
      },
      graceMs,
    )
    this.#deps.pool.off('error', this.#onPoolError)
    this.#state = 'stopped'
    this.config.logger.info('worker stopped', { worker: this.id })
    this.emit('worker:stopped', { workerId: this.id })
  }

  #leaseLost(job: RunningJob, reason: LeaseLostReason): void {
    job.abort('lease-lost')
    this.emit('job:lease-lost', { job: job.info, reason })
    this.config.logger.warn('lease lost; the job’s outcome here is dropped', {
      job: job.claim.id,
      task: job.claim.task,
      reason,
    })
  }

  /** The database answered after an outage: every loop resumes now, and the schema is re-checked. */
  #recovered(outageMs: number): void {
    if (this.#state !== 'running') return
    this.emit('worker:recovered', { outageMs })
    for (const fetcher of this.#fetchers.values()) fetcher.resume()
    this.#completer.resume()
    this.#renewer.trigger()
    const { pool, names } = this.#deps
    new Migrator({ pool, schema: names.schema }).assertCurrent().catch((error: unknown) => {
      if (!(error instanceof PgqSchemaVersionError)) return // unreachable again: the next recovery checks
      this.config.logger.error('stopping: the schema changed under the worker', { error: error.message })
      this.#fatal = error
      void this.stop()
    })
  }

  /**
   * @internal Reports an error of a background component: a `worker:error` event every time, a
   * log line only for the first error of an outage (then a summary; see OutageLog).
   */
  reportError(component: string, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error))
    this.#outage.failed(component, err)
    this.emit('worker:error', { component, error: err })
  }
}
