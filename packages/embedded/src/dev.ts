import { resolve } from 'node:path'
import type { MigrationResult, Worker, WorkerOptions } from '@pgq/core'
import { createPgq, type Pgq } from '@pgq/core'
import pg from 'pg'
import { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded.js'
import { previousPort } from './embedded-files.js'
import { isPortFree } from './ports.js'

/** Options of {@link startDev}. */
export interface DevOptions {
  /**
   * A real PostgreSQL to use instead of the embedded one. Without it, `$DATABASE_URL` is used as a
   * real server too, unless it is the dev database's own URL (see {@link devDatabasePort}): then the
   * embedded PostgreSQL starts on that URL's port. When neither is set, an embedded PostgreSQL keeps
   * its data in `dataDir`.
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
   * it, only the database is started and migrated: for an app that runs its own worker. A function
   * is called once the database is migrated, with its URL: to import a tasks module only after
   * `process.env.DATABASE_URL` names the dev database (what `pgq dev` does).
   */
  readonly worker?: WorkerOptions | ((url: string) => WorkerOptions | Promise<WorkerOptions>)
}

/** What {@link startDev} started; `stop()` undoes it in reverse order. */
export interface DevEnvironment {
  /** The connection URL, to give `psql` or your app. */
  readonly url: string
  /** A pool on `url` (pgq's own), for the app's queries in a dev script or a test; ended by `stop()`. */
  readonly pool: pg.Pool
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

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/**
 * The port of `url` when it is the URL an embedded dev database has: a local host with the user,
 * password and database `postgres` (what `pgq dev` prints), and either nothing listens on that port
 * yet or the dev database of `dataDir` last ran there. Otherwise `undefined`: a real server.
 *
 * ```ts
 * await devDatabasePort('postgres://postgres:postgres@127.0.0.1:5433/postgres', '.pgq/data') // 5433
 * await devDatabasePort('postgres://app@db.internal/app', '.pgq/data') // undefined
 * ```
 */
export async function devDatabasePort(url: string, dataDir: string): Promise<number | undefined> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  const dev =
    /^postgres(ql)?:$/.test(parsed.protocol) &&
    LOCAL_HOSTS.has(parsed.hostname) &&
    parsed.username === 'postgres' &&
    parsed.password === 'postgres' &&
    parsed.pathname === '/postgres'
  if (!dev) return undefined
  const port = Number(parsed.port || 5432)
  if (await isPortFree(port)) return port
  return previousPort(resolve(dataDir)) === port ? port : undefined
}

/**
 * The development setup of `pgq dev` as a library call: a PostgreSQL (embedded in `.pgq/data`
 * unless `databaseUrl` or `$DATABASE_URL` names a real one), migrated, with a worker and the
 * scheduler running. Jobs survive restarts because the data folder is kept. It returns the URL and
 * a pool on it; it does not change `process.env`.
 *
 * ```ts
 * const dev = await startDev({ worker: { tasks: [sendEmail], queues: { emails: 5 } } })
 * console.log(`psql ${dev.url}`)
 * await dev.pool.query('SELECT 1')
 * await dev.pgq.enqueue(sendEmail, { to: 'a@example.com' })
 * // …
 * await dev.stop()
 * ```
 */
export async function startDev(options: DevOptions = {}): Promise<DevEnvironment> {
  const dataDir = options.dataDir ?? '.pgq/data'
  const envUrl = options.databaseUrl === undefined ? process.env.DATABASE_URL : undefined
  const devPort = envUrl === undefined ? undefined : await devDatabasePort(envUrl, dataDir)
  const databaseUrl = options.databaseUrl ?? (devPort === undefined ? envUrl : undefined)
  const embedded = databaseUrl
    ? undefined
    : await startEmbeddedPostgres({
        ...options.embedded,
        ...(devPort === undefined ? {} : { port: devPort }),
        dataDir,
      })
  const url = databaseUrl ?? embedded!.url
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 })
  pool.on('error', () => {}) // an idle client dropped by a restarting server is replaced, not fatal
  const pgq = createPgq({ pool, ...(options.schema ? { schema: options.schema } : {}) })
  let worker: Worker | undefined
  try {
    const migration = await pgq.migrate()
    if (options.worker) {
      const workerOptions = typeof options.worker === 'function' ? await options.worker(url) : options.worker
      worker = pgq.createWorker(workerOptions)
      await worker.start()
    }
    let stopping: Promise<void> | undefined
    const stop = async () => {
      await worker?.stop()
      await pgq.close()
      await pool.end()
      await embedded?.stop()
    }
    return Object.freeze({
      url,
      pool,
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
    await pool.end().catch(() => {})
    await embedded?.stop().catch(() => {})
    throw error
  }
}
