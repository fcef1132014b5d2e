import { Jobs } from '../admin/jobs.js'
import { Queues } from '../admin/queues.js'
import type { Executor } from '../db/executor.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { StatementMode } from '../db/statement-mode.js'
import { createLineLogger } from '../logger.js'
import { Pruner } from '../maintenance/pruner.js'
import { type MigrationResult, Migrator } from '../migrate/migrator.js'
import { listenUrlOf } from '../notify/listen-url.js'
import { Notifier } from '../notify/notifier.js'
import { Schedules } from '../schedule/schedules.js'
import type { TaskDefinition } from '../task/task.js'
import { Tracing } from '../tracing/tracing.js'
import { Worker } from '../worker/worker.js'
import type { WorkerOptions } from '../worker/worker-config.js'
import { Workflows } from '../workflow/workflows.js'
import { type PgqConfig, type PgqOptions, resolveConfig } from './config.js'
import {
  type EnqueuedJob,
  type EnqueueOptions,
  insertJobs,
  type JobSpec,
  type OwnPool,
  prepareJob,
} from './enqueue.js'
import { EnqueueWakes } from './enqueue-wakes.js'

/**
 * The pgq client: enqueue jobs, migrate, and (see `createWorker`) run them.
 *
 * ```ts
 * const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
 * await pgq.migrate()
 * const job = await pgq.enqueue(sendEmail, { to: 'a@example.com' })
 * ```
 */
export class Pgq {
  readonly config: PgqConfig
  /** @internal */
  readonly names: SchemaNames

  /** @internal Use {@link createPgq}: the public API exports `Pgq` as a type only. */
  constructor(options: PgqOptions) {
    this.config = resolveConfig(options)
    this.names = schemaNames(this.config.schema)
    this.#tracing = new Tracing(this.config.tracing)
    const statements = new StatementMode(this.config.preparedStatements, createLineLogger('warn'))
    this.#own = Object.freeze({ statements, wakes: new EnqueueWakes(this.config.pool, this.names) })
  }

  readonly #tracing: Tracing
  /**
   * Enqueues on pgq's own pool: a lone job is one named prepared statement (planned once per
   * connection; behind a pooler that loses named statements, unnamed ones, with one warning), and
   * concurrent ones send their wake-ups after their commits, folded together (EnqueueWakes).
   */
  readonly #own: OwnPool

  #jobs: Jobs | undefined
  #schedules: Schedules | undefined
  #queues: Queues | undefined
  #workflows: Workflows | undefined
  readonly #notifiers = new Map<string, Notifier>()

  /**
   * @internal The client's one LISTEN connection, shared by its workers and `jobs.waitFor`: on
   * `listenConnectionString`, else the pool's URL; `undefined` when neither is known (then
   * everything polls). A worker given its own, different `listenConnectionString` gets a notifier
   * of its own for that URL.
   */
  notifier(url?: string): Notifier | undefined {
    const target =
      url ??
      this.config.listenConnectionString ??
      this.config.connectionString ??
      listenUrlOf(this.config.pool)
    if (!target) return undefined
    let notifier = this.#notifiers.get(target)
    if (!notifier) {
      notifier = new Notifier({ connectionString: target })
      this.#notifiers.set(target, notifier)
    }
    return notifier
  }

  /**
   * Jobs by id and by filter: get, list, wait for a result, cancel, retry, delete, stats.
   *
   * ```ts
   * const { id } = await pgq.enqueue(buildReport, { month: '2026-10' })
   * const result = await pgq.jobs.waitFor(id, { timeoutMs: 60_000 })
   * ```
   */
  get jobs(): Jobs {
    const notifier = this.notifier()
    this.#jobs ??= new Jobs({
      pool: this.config.pool,
      schema: this.config.schema,
      pollIntervalMs: this.config.resultPollIntervalMs,
      ...(notifier ? { notifier } : {}),
    })
    return this.#jobs
  }

  /**
   * Periodic schedules (rows of `<schema>.schedules`): set, list, pause, resume, trigger, remove.
   *
   * ```ts
   * await pgq.schedules.set({ name: 'nightly-report', cron: '0 3 * * *', timezone: 'Europe/Paris', task: 'build_report' })
   * ```
   */
  get schedules(): Schedules {
    this.#schedules ??= new Schedules({
      pool: this.config.pool,
      schema: this.config.schema,
      maxPayloadBytes: this.config.maxPayloadBytes,
    })
    return this.#schedules
  }

  /**
   * Flow control (rows of `<schema>.queues`): pause and resume queues, limit their global
   * concurrency. See docs/flow-control.md.
   *
   * ```ts
   * await pgq.queues.set('video', { concurrency: 5 })
   * await pgq.queues.pause('video')
   * ```
   */
  get queues(): Queues {
    this.#queues ??= new Queues({ pool: this.config.pool, schema: this.config.schema })
    return this.#queues
  }

  /**
   * Workflows (chain, group, chord of jobs): create one atomically on your transaction, get its
   * nodes, wait for its result, cancel it. See docs/workflows.md.
   *
   * ```ts
   * const wf = await pgq.workflows.create(chain(job(fetchPage, { url }), step(extractTitle)), { db: trx })
   * const title = await pgq.workflows.waitFor(wf.id)
   * ```
   */
  get workflows(): Workflows {
    this.#workflows ??= new Workflows({
      pool: this.config.pool,
      names: this.names,
      jobs: () => this.jobs,
      maxPayloadBytes: this.config.maxPayloadBytes,
      cancelledRetentionMs: 7 * 24 * 60 * 60 * 1000,
    })
    return this.#workflows
  }

  /** The pool pgq runs its own statements on. */
  get pool() {
    return this.config.pool
  }

  /**
   * Enqueues one job. With `options.db` it runs on your connection or transaction, so it commits or
   * rolls back with your own writes; otherwise it is its own short transaction on pgq's pool.
   * Workers are woken when the job commits.
   *
   * ```ts
   * await client.query('BEGIN')
   * await client.query('INSERT INTO videos (id) VALUES ($1)', [id])
   * const job = await pgq.enqueue(processVideo, { videoId: id }, { db: client })
   * await client.query('COMMIT') // the job exists only from here on
   * ```
   */
  async enqueue<P>(
    task: TaskDefinition<P, unknown> | string,
    payload: P,
    options: EnqueueOptions = {},
  ): Promise<EnqueuedJob> {
    const prepared = prepareJob(task, payload, options, this.config.maxPayloadBytes, '')
    const [job] = await insertJobs(
      options.db ?? this.config.pool,
      this.names,
      [prepared],
      this.#tracing,
      options.db === undefined ? this.#own : undefined,
    )
    return job!
  }

  /**
   * Enqueues many jobs in one statement (one round trip, one NOTIFY per queue). Every job is
   * validated first; one bad job rejects the whole call before any SQL runs.
   *
   * ```ts
   * await pgq.enqueueMany(users.map((u) => ({ task: sendEmail, payload: { to: u.email } })), { db: trx })
   * ```
   */
  async enqueueMany(
    jobs: readonly JobSpec[],
    options: { readonly db?: Executor } = {},
  ): Promise<EnqueuedJob[]> {
    const prepared = jobs.map((job, index) =>
      prepareJob(job.task, job.payload, job.options ?? {}, this.config.maxPayloadBytes, `jobs[${index}].`),
    )
    return insertJobs(
      options.db ?? this.config.pool,
      this.names,
      prepared,
      this.#tracing,
      options.db === undefined ? this.#own : undefined,
    )
  }

  /**
   * Creates a worker that runs the given tasks' jobs on this client's pool and schema. Call
   * `start()` on it; `stop()` shuts it down gracefully.
   *
   * ```ts
   * const worker = pgq.createWorker({ tasks: [sendEmail], queues: { emails: 20 } })
   * await worker.start()
   * ```
   */
  createWorker(options: WorkerOptions): Worker {
    return new Worker(options, {
      pool: this.config.pool,
      names: this.names,
      notifier: this.notifier(options.listenConnectionString),
      maxPayloadBytes: this.config.maxPayloadBytes,
      tracing: this.#tracing,
    })
  }

  /** Applies pending migrations to this client's schema (see {@link Migrator}). */
  async migrate(): Promise<MigrationResult> {
    return new Migrator({ pool: this.config.pool, schema: this.config.schema }).migrate()
  }

  /**
   * Deletes finished jobs past their retention now, in batches that each commit (what workers do
   * every `pruneIntervalMs`, and `pgq prune` from a shell). Resolves with the number deleted.
   *
   * ```ts
   * const deleted = await pgq.prune({ batchSize: 5_000 })
   * ```
   */
  async prune(options: { readonly batchSize?: number } = {}): Promise<number> {
    const pruner = new Pruner({
      pool: this.config.pool,
      schema: this.config.schema,
      onError: () => {}, // one run: its errors reject this call
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    })
    return pruner.pruneOnce()
  }

  /** Stops `waitFor`s in progress, ends the LISTEN connection, and ends the pool if pgq created it. */
  async close(): Promise<void> {
    await this.#own.wakes.settled()
    await this.#jobs?.close()
    for (const notifier of this.#notifiers.values()) await notifier.close()
    if (this.config.ownsPool) await this.config.pool.end()
  }
}

/**
 * Creates a pgq client.
 *
 * ```ts
 * const pgq = createPgq({ pool, schema: 'pgq' })
 * ```
 */
export function createPgq(options: PgqOptions): Pgq {
  return new Pgq(options)
}
