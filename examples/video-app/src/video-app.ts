// Everything of the example in one call: database (embedded unless given), migrations, the worker
// with its schedule, and the HTTP API listening. Used by main.ts, the tests and `pgq demo`.

import type { Logger, Pgq, ScheduleDefinition, Worker } from '@pgq/core'
import { type DevEnvironment, startDev } from '@pgq/embedded'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { buildApp } from './app.js'
import { type AppTables, appTables, migrateApp } from './schema.js'
import { createTasks, type VideoTasks } from './tasks.js'
import { cleanupSchedule, createVideoWorker } from './worker.js'

/** Options of {@link startVideoApp}. */
export interface VideoAppOptions {
  /** A real PostgreSQL (default `$DATABASE_URL`, else an embedded one in `dataDir`). */
  readonly databaseUrl?: string
  /** Data folder of the embedded PostgreSQL (default `.pgq/data`). */
  readonly dataDir?: string
  /** Schema of pgq's tables (default `pgq`). */
  readonly pgqSchema?: string
  /** Schema of the app's tables (default `video_app`). */
  readonly appSchema?: string
  /** HTTP port (default 3000; 0 picks a free one). */
  readonly port?: number
  readonly host?: string
  /** Run a worker in this process (default true; in production run `pgq work` processes instead). */
  readonly worker?: boolean
  /** The schedules the worker declares (default: the hourly clean-up). */
  readonly schedules?: (tasks: VideoTasks) => readonly ScheduleDefinition[]
  readonly logger?: Logger
  /** Duration of one simulated step of heavy work, in ms (default 400). */
  readonly stepMs?: number
  /** First retry delay of the flaky CRM sync, in ms (default 1,000). */
  readonly retryDelayMs?: number
  /** Worker poll fallback, in ms (default 1,000). */
  readonly pollIntervalMs?: number
  /** Called after migrations, before the worker starts: e.g. to read the database or hook worker events. */
  readonly onStarting?: (pgq: Pgq, worker: Worker | undefined) => Promise<void> | void
}

/** The running example; `stop()` shuts it all down (API, worker, client, database). */
export interface VideoApp {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:3000`. */
  readonly url: string
  readonly dev: DevEnvironment
  readonly pgq: Pgq
  readonly pool: pg.Pool
  readonly tables: AppTables
  readonly tasks: VideoTasks
  readonly worker: Worker | undefined
  readonly app: FastifyInstance
  stop(): Promise<void>
}

/**
 * Starts the example.
 *
 * ```ts
 * const videoApp = await startVideoApp({ port: 3000 })
 * console.log(`curl -X POST ${videoApp.url}/videos/42/process`)
 * ```
 */
export async function startVideoApp(options: VideoAppOptions = {}): Promise<VideoApp> {
  const dev = await startDev({
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.pgqSchema ? { schema: options.pgqSchema } : {}),
  })
  const { pgq } = dev
  const tables = appTables(options.appSchema)
  let worker: Worker | undefined
  let app: FastifyInstance | undefined
  try {
    await migrateApp(pgq.pool, tables)
    const tasks = createTasks({
      pool: pgq.pool,
      tables,
      ...(options.stepMs !== undefined ? { stepMs: options.stepMs } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    })
    if (options.worker !== false) {
      worker = createVideoWorker(pgq, tasks, {
        schedules: options.schedules?.(tasks) ?? [cleanupSchedule(tasks)],
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
      })
    }
    await options.onStarting?.(pgq, worker)
    await worker?.start()
    app = buildApp({ pool: pgq.pool, pgq, tables, tasks })
    const url = await app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' })
    const started = app
    let stopping: Promise<void> | undefined
    const stop = async () => {
      await started.close()
      await worker?.stop()
      await dev.stop()
    }
    return Object.freeze({
      url,
      dev,
      pgq,
      pool: pgq.pool,
      tables,
      tasks,
      worker,
      app: started,
      stop: () => {
        stopping ??= stop()
        return stopping
      },
    })
  } catch (error) {
    await app?.close().catch(() => {})
    await worker?.stop().catch(() => {})
    await dev.stop().catch(() => {})
    throw error
  }
}
