import { relative } from 'node:path'
import type { Job, JobStats } from '@pgq/core'
import type { Command } from 'commander'
import { runTour } from '../demo/tour.js'
import { logWorkerEvents, TourLog } from '../demo/tour-log.js'
import { intOption, json, table } from '../format.js'

const CLEANUP_SCHEDULE = 'cleanup-temp-files'

interface DemoOptions {
  readonly dataDir: string
  readonly databaseUrl?: string
  readonly port: number
  readonly keepRunning?: boolean
}

/** `pgq demo`: the scripted tour of the example app on an embedded PostgreSQL kept in ./.pgq/data. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'a scripted tour of pgq: the example web app, its worker and schedule, on an embedded PostgreSQL',
    )
    .option('--data-dir <dir>', 'where the embedded PostgreSQL keeps its data', '.pgq/data')
    .option(
      '--database-url <url>',
      'use this PostgreSQL instead of the embedded one (default: $DATABASE_URL)',
    )
    .option('--port <n>', 'HTTP port of the example app (default: a free one)', intOption(0, 65_535), 0)
    .option('--keep-running', 'after the tour, keep the app, worker and database running until Ctrl-C')
    .action((options: DemoOptions) => demo(options))
}

function total(stats: JobStats): number {
  const t = stats.totals
  return t.waiting + t.scheduled + t.running + t.succeeded + t.failed + t.cancelled + t.expired
}

async function demo(options: DemoOptions): Promise<void> {
  const log = new TourLog()
  const began = performance.now()
  // The example app ships with the repository, not with the published CLI.
  const example = await import('@pgq/example-video-app').catch((cause: unknown) => {
    throw new Error('pgq demo runs the example app of the pgq repository: run it from a clone', { cause })
  })
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL
  log.say('pgq demo: a web API answers at once while its slow work runs durably in PostgreSQL')
  log.say(
    databaseUrl
      ? `using the PostgreSQL of --database-url/DATABASE_URL`
      : `starting PostgreSQL in ${options.dataDir} …`,
  )
  let earlier = 0
  const videoApp = await example.startVideoApp({
    ...(databaseUrl ? { databaseUrl } : { dataDir: options.dataDir }),
    port: options.port,
    stepMs: 500,
    retryDelayMs: 500,
    pollIntervalMs: 200,
    schedules: (tasks) => [example.cleanupSchedule(tasks, { cron: '*/2 * * * * *', olderThanSeconds: 0 })],
    async onStarting(pgq, worker) {
      earlier = total(await pgq.jobs.stats())
      if (worker) logWorkerEvents(worker, log, new Set(['cleanup_temp_files']))
      log.startClock()
    },
  })
  let stopping = false
  const stop = async (code: number) => {
    if (stopping) return
    stopping = true
    if (code !== 0)
      log.say('stopping: the app, the worker (running jobs finish or go back to the queue), the database')
    await videoApp.worker?.stop()
    // The tour's every-2-seconds schedule must not keep firing for whatever runs on this database next
    // (`pgq dev`, the example app, which declares its own hourly clean-up); the next demo declares it again.
    await videoApp.pgq.schedules.remove(CLEANUP_SCHEDULE).catch(() => false)
    await videoApp.stop()
    process.exit(code)
  }
  process.once('SIGINT', () => void stop(130))
  process.once('SIGTERM', () => void stop(143))

  const { dev } = videoApp
  if (dev.embedded) {
    const how = dev.embedded.created ? 'created a new cluster' : 'reopened the data of earlier runs'
    log.say(
      `PostgreSQL ready on port ${dev.embedded.port} (${how}${dev.embedded.shared ? ', already running' : ''})`,
    )
  }
  log.say(
    `schema "${videoApp.pgq.config.schema}" at migration ${dev.migration.version}; app tables in "${videoApp.tables.schema}"`,
  )
  log.say(
    earlier > 0
      ? `${earlier} jobs from earlier runs are still in the database: jobs are rows, they survive restarts`
      : 'no jobs in the database yet: this is the first run',
  )
  log.say(
    `the example app listens on ${videoApp.url}; its worker runs heavy_compute=2, high_priority=10, default=5`,
  )
  log.say('and declares the schedule cleanup-temp-files (every 2 s here; hourly in the app)')
  log.say('')
  log.say('the tour  (http = requests the demo makes, worker = job events, sched = the scheduler)')
  const tour = await runTour(videoApp, log).catch(async (error: unknown) => {
    await videoApp.stop()
    throw error
  })

  const jobs = (
    await Promise.all([...tour.jobIds, tour.cleanupJobId].map((id) => videoApp.pgq.jobs.get(id)))
  ).filter((job): job is Job => job !== undefined)
  log.say('')
  log.say('this run’s jobs (what GET /jobs/:id and pgq.jobs.get() return; payloads are not shown)')
  log.say(
    table(
      ['id', 'task', 'queue', 'state', 'attempts', 'result'],
      jobs.map((j) => [j.id, j.task, j.queue, j.state, `${j.attempts}/${j.maxAttempts}`, json(j.result, 70)]),
    ).replace(/^/gm, '  '),
  )
  const now = total(await videoApp.pgq.jobs.stats())
  log.say('')
  log.say(
    `the database now holds ${now} jobs (${earlier} from earlier runs); run the demo again to see them kept`,
  )
  nextSteps(log, videoApp.url, dev.url, jobs.find((j) => j.task === 'build_report')?.id, options)
  log.say(`tour finished in ${((performance.now() - began) / 1000).toFixed(1)} s`)
  if (options.keepRunning) {
    log.say('still running: Ctrl-C stops the app, the worker and the database')
    return
  }
  await stop(0)
}

function nextSteps(
  log: TourLog,
  appUrl: string,
  databaseUrl: string,
  reportId: string | undefined,
  options: DemoOptions,
): void {
  const dbFlag = `--database-url ${databaseUrl}`
  const pgq = `node ${relative(process.cwd(), process.argv[1] ?? 'packages/cli/dist/main.js')}`
  log.say('')
  log.say('where to look next')
  if (options.keepRunning) {
    log.say(`  curl -X POST ${appUrl}/videos/42/process`)
    log.say(`  curl ${appUrl}/jobs/${reportId ?? 1}`)
  } else {
    log.say(`  ${pgq} demo --keep-running    keeps the app up, to curl it`)
  }
  log.say(
    options.keepRunning || options.databaseUrl || process.env.DATABASE_URL
      ? `  psql ${databaseUrl}`
      : `  ${pgq} dev${options.dataDir === '.pgq/data' ? '' : ` --data-dir ${options.dataDir}`}    keeps this database running; then: psql ${databaseUrl}`,
  )
  log.say(`  SELECT id, task, state, attempts, progress, result FROM pgq.jobs ORDER BY id DESC LIMIT 10;`)
  log.say(`  ${pgq} stats ${dbFlag}`)
  log.say(`  ${pgq} jobs ${dbFlag} --state failed`)
  log.say(`  ${pgq} dashboard ${dbFlag}    the web dashboard at http://127.0.0.1:4100/ (docs/dashboard.md)`)
  log.say('  the code: examples/video-app/src · the guides: docs/getting-started.md, docs/concepts.md')
}
