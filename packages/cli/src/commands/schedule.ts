import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { MissedPolicy, ScheduleInfo } from '@pgq/core'
import { collectScheduleDefinitions, formatInZone, ScheduleEnqueuer, Schedules } from '@pgq/core/internal'
import type { Command } from 'commander'
import { table } from '../format.js'
import { CliExit, EXIT_CODES, holdUntilSignal } from '../lifetime.js'
import { createCliLogger, type LogOptions, withLogOptions } from '../log-format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'
import { loadTaskModule } from '../task-module.js'

interface WriteOptions extends ConnectionOptions {
  readonly payload?: string
  readonly tz?: string
  readonly queue?: string
  readonly priority?: string
  readonly maxAttempts?: string
  readonly missed?: string
  readonly backfillLimit?: string
  readonly tasks?: string
  readonly json?: boolean
}

interface JsonOption extends ConnectionOptions {
  readonly json?: boolean
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^-?\d+$/.test(value)) throw new Error(`${flag} must be an integer, got "${value}"`)
  return Number(value)
}

function parsePayload(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new Error(`--payload is not valid JSON: ${(error as Error).message}`)
  }
}

/** Runs `fn` with a `Schedules` on a short-lived pool (checking task names when a module is given). */
async function withSchedules<T>(
  options: ConnectionOptions & { readonly tasks?: string },
  fn: (schedules: Schedules) => Promise<T>,
): Promise<T> {
  const knownTasks = options.tasks
    ? new Set((await loadTaskModule(options.tasks)).tasks.map((t) => t.name))
    : undefined
  const pool = openPool(options, 2)
  try {
    return await fn(new Schedules({ pool, schema: options.schema, ...(knownTasks ? { knownTasks } : {}) }))
  } finally {
    await pool.end()
  }
}

const local = (at: Date | null, tz: string) => (at ? formatInZone(at, tz) : '-')

/** A schedule's queue; null means the task's registered queue at enqueue time (else `default`). */
const queueText = (s: ScheduleInfo) => s.queue ?? '(task default)'

function describe(s: ScheduleInfo): string {
  const status = s.status === 'errored' ? `errored: ${s.error}` : s.status
  return `${s.name}: "${s.cron}" ${s.timezone} -> ${s.task} (queue ${queueText(s)}, missed ${s.missed}), next ${local(s.nextRunAt, s.timezone)}, ${status}`
}

function listText(list: ScheduleInfo[]): string {
  if (list.length === 0) return 'no schedules'
  const rows = list.map((s) => [
    s.name,
    s.cron,
    s.timezone,
    s.task,
    queueText(s),
    local(s.nextRunAt, s.timezone),
    local(s.lastRunAt, s.timezone),
    s.lastJobState ?? '-',
    s.status === 'errored' ? `errored: ${s.error}` : s.status,
  ])
  return table(['NAME', 'CRON', 'TZ', 'TASK', 'QUEUE', 'NEXT', 'LAST RUN', 'LAST JOB', 'STATUS'], rows)
}

function registerWrite(schedule: Command, verb: 'add' | 'set', description: string): void {
  withConnectionOptions(
    schedule
      .command(`${verb} <name> <cron> <task>`)
      .description(description)
      .option('--payload <json>', 'payload of every job (JSON, default {})')
      .option('--tz <zone>', 'IANA time zone the cron expression is read in (default UTC)')
      .option('--queue <name>', 'queue of the jobs (default: the task\'s registered queue, else "default")')
      .option('--priority <n>', "priority of the jobs, higher runs first (default: the task's, else 0)")
      .option('--max-attempts <n>', "attempts per job (default: the task's, else 5)")
      .option('--missed <policy>', 'ticks missed while no scheduler ran: skip | once | all (default skip)')
      .option(
        '--backfill-limit <n>',
        'with --missed all: most recent missed ticks enqueued at most (default 100)',
      )
      .option('--tasks <module>', 'reject a task that this module (defineTask() results) does not export')
      .option('--json', 'machine-readable output'),
  ).action(async (name: string, cron: string, task: string, options: WriteOptions) => {
    const input = {
      name,
      cron,
      task,
      payload: parsePayload(options.payload),
      timezone: options.tz,
      queue: options.queue,
      priority: int(options.priority, '--priority'),
      maxAttempts: int(options.maxAttempts, '--max-attempts'),
      missed: options.missed as MissedPolicy | undefined,
      backfillLimit: int(options.backfillLimit, '--backfill-limit'),
    }
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
    const info = await withSchedules(options, (s) =>
      verb === 'add' ? s.add(defined as typeof input) : s.set(defined as typeof input),
    )
    output(options.json, info, () => `${verb === 'add' ? 'added' : 'saved'} ${describe(info)}`)
  })
}

function registerNamed(
  schedule: Command,
  verb: string,
  description: string,
  run: (s: Schedules, name: string) => Promise<unknown>,
  text: (name: string, result: unknown) => string,
): void {
  withConnectionOptions(
    schedule.command(`${verb} <name>`).description(description).option('--json', 'machine-readable output'),
  ).action(async (name: string, options: JsonOption) => {
    const result = await withSchedules(options, (s) => run(s, name))
    output(options.json, { name, result }, () => text(name, result))
  })
}

/** `pgq schedule add|set|list|remove|pause|resume|trigger|next|run`: periodic jobs. */
export function registerSchedule(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('periodic jobs: cron schedules stored in the database')
  registerWrite(schedule, 'add', 'create a schedule (fails if the name exists)')
  registerWrite(
    schedule,
    'set',
    'create or update a schedule (keeps its next run unless cron or zone change)',
  )

  withConnectionOptions(
    schedule
      .command('list')
      .description('schedules with next and last run')
      .option('--json', 'machine-readable output'),
  ).action(async (options: JsonOption) => {
    const list = await withSchedules(options, (s) => s.list())
    output(options.json, list, () => listText(list))
  })

  registerNamed(
    schedule,
    'remove',
    'delete a schedule (its jobs stay)',
    async (s, name) => {
      if (!(await s.remove(name))) throw new Error(`schedule "${name}" does not exist`)
      return true
    },
    (name) => `removed ${name}`,
  )
  registerNamed(
    schedule,
    'pause',
    'stop firing until resumed',
    (s, n) => s.pause(n),
    (name) => `paused ${name}`,
  )
  registerNamed(
    schedule,
    'resume',
    'fire again from the next tick (and clear an error)',
    (s, n) => s.resume(n),
    (name) => `resumed ${name}`,
  )
  registerNamed(
    schedule,
    'trigger',
    'enqueue one job of the schedule now',
    (s, n) => s.trigger(n),
    (name, id) => `triggered ${name}: job ${id}`,
  )

  withConnectionOptions(
    schedule
      .command('next <name>')
      .description("preview the next fire times in the schedule's time zone")
      .option('-n, --count <n>', 'how many', '5')
      .option('--json', 'machine-readable output'),
  ).action(async (name: string, options: JsonOption & { count: string }) => {
    const count = int(options.count, '--count') ?? 5
    const times = await withSchedules(options, (s) => s.preview(name, count))
    output(options.json, times, () => times.map((t) => `${t.local}  (${t.at.toISOString()})`).join('\n'))
  })

  withConnectionOptions(
    withLogOptions(schedule.command('run'))
      .description('run only the scheduler (like celery beat; any number may run) until SIGINT/SIGTERM')
      .option('--interval <ms>', 'time between passes (default 1000)')
      .option(
        '--schedules <module>',
        'module exporting defineSchedule() results, upserted on start (code-first)',
      ),
  ).action(async (options: ConnectionOptions & LogOptions & { interval?: string; schedules?: string }) => {
    const logger = createCliLogger(options)
    const schedules = options.schedules
      ? collectScheduleDefinitions(await import(pathToFileURL(resolve(options.schedules)).href))
      : undefined
    if (options.schedules && schedules?.length === 0) {
      throw new CliExit(
        EXIT_CODES.config,
        `${options.schedules} exports no schedules (defineSchedule() results)`,
      )
    }
    const pool = openPool(options, 2)
    const scheduler = new ScheduleEnqueuer({
      pool,
      schema: options.schema,
      logger,
      intervalMs: int(options.interval, '--interval') ?? 1000,
      ...(schedules ? { schedules } : {}),
      onError: (component, error) => logger.error(`${component} pass failed`, { error: String(error) }),
    })
    // held until a signal: the scheduler's timers alone do not keep the process alive
    holdUntilSignal({
      logger,
      stopDeadlineMs: 30_000,
      stop: async () => {
        await scheduler.stop()
        await pool.end()
        logger.info('scheduler stopped')
      },
    })
    await scheduler.start()
    logger.info('scheduler started', { schema: options.schema, pid: process.pid })
  })
}
