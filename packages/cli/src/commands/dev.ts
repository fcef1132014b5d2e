import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { type Logger, PgqError, type WorkerOptions } from '@pgq/core'
import { collectScheduleDefinitions } from '@pgq/core/internal'
import { type DevEnvironment, devDatabasePort, startDev } from '@pgq/embedded'
import type { Command } from 'commander'
import { intOption } from '../format.js'
import { logJobEvents } from '../job-log.js'
import { CliExit, EXIT_CODES, exitWhenClosed, holdUntilSignal } from '../lifetime.js'
import { createCliLogger, type LogOptions, withLogOptions } from '../log-format.js'
import { assertDatabaseUrl } from '../options.js'
import { loadTaskModule, tasksNotFound } from '../task-module.js'
import { parseQueues } from './work.js'

interface DevCommandOptions extends LogOptions {
  readonly tasks?: string
  readonly dataDir: string
  readonly databaseUrl?: string
  readonly schema: string
  readonly port?: number
  readonly queues?: string
  readonly concurrency?: number
}

/**
 * `pgq dev`: an embedded PostgreSQL kept in ./.pgq/data (or `--database-url`), migrated, with a
 * worker and the scheduler for a tasks module; prints the URL and runs until Ctrl-C, with or
 * without tasks and whatever happens to its connections (exit codes: docs/operations.md).
 */
export function registerDev(program: Command): void {
  const command = program
    .command('dev')
    .description('development: embedded PostgreSQL in .pgq/data, migrated, plus a worker and the scheduler')
    .option('--tasks <module>', 'module exporting defineTask() (and defineSchedule()) results to run')
    .option('--data-dir <dir>', 'where the embedded PostgreSQL keeps its data', '.pgq/data')
    .option(
      '--database-url <url>',
      'use this PostgreSQL instead of the embedded one (default: $DATABASE_URL)',
    )
    .option('--schema <name>', 'schema holding pgq tables', process.env.PGQ_SCHEMA ?? 'pgq')
    .option(
      '--port <n>',
      'port of the embedded PostgreSQL (default: the last one, else a free one)',
      intOption(1, 65_535),
    )
    .option('-Q, --queues <list>', 'queues to work: "emails,reports" or "emails=50,video=2"')
    .option('-c, --concurrency <n>', 'jobs at once per queue (default 10)', intOption(1, 10_000))
  withLogOptions(command).action((options: DevCommandOptions) => dev(options))
}

async function dev(options: DevCommandOptions): Promise<void> {
  const logger = createCliLogger(options)
  const say = (line: string) => process.stdout.write(`${line}\n`)
  // a missing module is found before the database starts; the module itself is imported once
  // DATABASE_URL names the dev database, so the handlers' own pools reach it
  if (options.tasks && !existsSync(resolve(options.tasks))) {
    throw new CliExit(EXIT_CODES.config, tasksNotFound(options.tasks))
  }
  const before = process.env.DATABASE_URL
  if (options.databaseUrl) assertDatabaseUrl(options.databaseUrl, '--database-url')
  else if (before) assertDatabaseUrl(before, 'DATABASE_URL')
  // DATABASE_URL of the dev database itself (what this command printed) starts the embedded one
  const embedded =
    !options.databaseUrl && (!before || (await devDatabasePort(before, options.dataDir)) !== undefined)
  if (embedded) say(`starting PostgreSQL in ${options.dataDir} …`)
  let env: DevEnvironment | undefined
  // held from here: without --tasks nothing else keeps the process (and its database) alive
  holdUntilSignal({
    logger,
    stopDeadlineMs: 60_000,
    stop: async (signal) => {
      logger.info('stopping: finishing running jobs, then the database', { signal })
      await env?.stop()
    },
  })
  try {
    env = await startDev({
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      dataDir: options.dataDir,
      ...(options.port ? { embedded: { port: options.port } } : {}),
      schema: options.schema,
      ...(options.tasks
        ? {
            worker: (url: string) => {
              process.env.DATABASE_URL = url
              return workerOptions(options, logger)
            },
          }
        : {}),
    })
    process.env.DATABASE_URL = env.url
  } catch (error) {
    // the embedded PostgreSQL could not be set up (initdb, permissions, port): exit 69
    if (error instanceof PgqError && error.code.startsWith('PGQ_EMBEDDED')) {
      throw new CliExit(EXIT_CODES.unavailable, error.message, { cause: error })
    }
    throw error
  }
  if (env.worker) logJobEvents(env.worker, logger, 'info')
  // a worker that stops itself on a fatal condition ends `pgq dev` with the documented code
  exitWhenClosed(env.worker?.closed)

  if (env.embedded) {
    const how = env.embedded.created ? 'a new cluster' : 'the data of earlier runs'
    say(
      `PostgreSQL ${env.embedded.shared ? 'already running' : 'started'} on port ${env.embedded.port} with ${how}`,
    )
    say(`  its log: ${env.embedded.logFile}`)
  }
  say(
    `schema "${options.schema}" at migration ${env.migration.version} (applied now: ${env.migration.applied.length})`,
  )
  say(`DATABASE_URL=${env.url}`)
  say(
    before === env.url
      ? '  your DATABASE_URL already points here; the tasks module sees it too'
      : `  your app: export DATABASE_URL=${env.url}   (the tasks module run here already sees it)`,
  )
  say(`  psql ${env.url}`)
  if (env.worker) {
    const queues = [...env.worker.config.queues].map(([q, n]) => `${q}=${n}`).join(', ')
    const tasks = [...env.worker.config.tasks.keys()].join(', ')
    say(`worker and scheduler running: tasks ${tasks}; queues ${queues}`)
  } else {
    say('no --tasks: database only (run your worker against DATABASE_URL, or pass --tasks <module>)')
  }
  say('Ctrl-C stops everything; the data stays for the next run')
}

async function workerOptions(options: DevCommandOptions, logger: Logger): Promise<WorkerOptions> {
  const module = await loadTaskModule(options.tasks!)
  const schedules = collectScheduleDefinitions(module.exports)
  return {
    tasks: module.tasks,
    ...(options.queues ? { queues: parseQueues(options.queues, options.concurrency) } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(schedules.length > 0 ? { schedules } : {}),
    logger,
  }
}
