import type { MigrationResult, Worker, WorkerOptions } from 'pgq'
import { createPgq, type Pgq } from 'pgq'
import { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded.js'

/** Options of {@link startDev}. */
export interface DevOptions {
  /**
   * A real PostgreSQL to use instead of the embedded one (default: `$DATABASE_URL`; when neither is
   * set, an embedded PostgreSQL keeps its data in `dataDir`).
   */
  readonly databaseUrl?: string
  /** Data folder of the embedded PostgreSQL (default `.pgq/data`, relative to the working directory). */
  readonly dataDir?: string
  /** More options of the embedded PostgreSQL (port, flags, …). */
  readonly embedded?: Omit<EmbeddedPostgresOptions, 'dataDir'>
  /** Schema of pgq's tables (default `pgq`). */
  readonly schema?: string
  /** Pool size of the client (default 10). */
  readonly poolSize?: number
  /**
   * The worker to run, with its tasks, queues and schedules (the scheduler runs with it). Without
   * it, only the database is started and migrated: for an app that runs its own worker.
   */
  readonly worker?: WorkerOptions
}

/** What {@link startDev} started; `stop()` undoes it in reverse order. */
export interface DevEnvironment {
  /** The connection URL, to give `psql` or your app. */
  readonly url: string
  /** The embedded PostgreSQL, or undefined when a real server was given. */
  readonly embedded: EmbeddedPostgres | undefined
  readonly pgq: Pgq
  /** The running worker, when `worker` options were given. */
  readonly worker: Worker | undefined
  /** What `migrate()` applied on start. */
  readonly migration: MigrationResult
  /** Stops the worker (gracefully), closes the client, then stops the embedded PostgreSQL. */
  stop(): Promise<void>
}

/**
 * The development setup of `pgq dev` as a library call: a PostgreSQL (embedded in `.pgq/data`
 * unless `databaseUrl` or `$DATABASE_URL` names a real one), migrated, with a worker and the
 * scheduler running. Jobs survive restarts because the data folder is kept.
 *
 * ```ts
 * const dev = await startDev({ worker: { tasks: [sendEmail], queues: { emails: 5 } } })
 * console.log(`psql ${dev.url}`)
 * await dev.pgq.enqueue(sendEmail, { to: 'a@example.com' })
 * // …
 * await dev.stop()
 * ```
 */
export async function startDev(options: DevOptions = {}): Promise<DevEnvironment> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL
  const embedded = databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ ...options.embedded, dataDir: options.dataDir ?? '.pgq/data' })
  const url = databaseUrl ?? embedded!.url
  const pgq = createPgq({
    connectionString: url,
    ...(options.schema ? { schema: options.schema } : {}),
    ...(options.poolSize ? { poolSize: options.poolSize } : {}),
  })
  let worker: Worker | undefined
  try {
    const migration = await pgq.migrate()
    if (options.worker) {
      worker = pgq.createWorker(options.worker)
      await worker.start()
    }
    let stopping: Promise<void> | undefined
    const stop = async () => {
      await worker?.stop()
      await pgq.close()
      await embedded?.stop()
    }
    return Object.freeze({
      url,
      embedded,
      pgq,
      worker,
      migration,
      stop: () => {
        stopping ??= stop()
        return stopping
      },
    })
  } catch (error) {
    await worker?.stop().catch(() => {})
    await pgq.close().catch(() => {})
    await embedded?.stop().catch(() => {})
    throw error
  }
}
