import { assertName } from '../db/identifiers.js'
import { PgqValidationError } from '../errors.js'
import { DEFAULT_MAX_PAYLOAD_BYTES, serializeJson } from '../task/payload.js'
import type { TaskDefinition } from '../task/task.js'
import { assertInt, assertOptions, optionKeys } from '../util/validate.js'
import { parseCron } from './cron.js'
import { MISSED_POLICIES, type MissedPolicy } from './fire-plan.js'

/** A periodic schedule as you declare it; see {@link defineSchedule}. */
export interface ScheduleOptions<P = unknown> {
  /** Unique schedule name: 1-128 characters of A-Z a-z 0-9 _ . : - */
  readonly name: string
  /**
   * When to fire: 5 fields (`minute hour day-of-month month day-of-week`), 6 with a leading
   * seconds field, or an alias (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, …).
   */
  readonly cron: string
  /** The task to enqueue: a task definition or its name. */
  readonly task: TaskDefinition<P, unknown> | string
  /** The payload of every job (JSON; default `{}`). */
  readonly payload?: P
  /** IANA time zone the expression is read in (default `UTC`). */
  readonly timezone?: string
  /**
   * Queue of the jobs. Default: a task definition's own queue; for a task named by string, the
   * queue its task registered (`pgq.tasks`) when each job is enqueued, else `default`.
   */
  readonly queue?: string
  /**
   * Priority of the jobs: higher runs first. Default: a task definition's priority when it sets one;
   * otherwise the task's registered priority at enqueue, else 0.
   */
  readonly priority?: number
  /** Attempts of each job (default: the task's, else the queue default of 5). */
  readonly maxAttempts?: number
  /** Ticks missed while no scheduler ran: `skip` (default), `once` or `all`. */
  readonly missed?: MissedPolicy
  /** With `missed: 'all'`, the most recent missed ticks enqueued at most (default 100, 1-10,000). */
  readonly backfillLimit?: number
}

/** A validated, frozen schedule. Write it with `Schedules.set()` or declare it in a worker. */
export interface ScheduleDefinition {
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly task: string
  /** The payload as JSON text. */
  readonly payloadJson: string
  /** The queue, or null: the task's registered queue when a job is enqueued, else `default`. */
  readonly queue: string | null
  /** The priority, or null: the task's registered priority when a job is enqueued, else 0. */
  readonly priority: number | null
  /** The attempts, or null: the task's registered attempts when a job is enqueued, else 5. */
  readonly maxAttempts: number | null
  readonly missed: MissedPolicy
  readonly backfillLimit: number
}

const KNOWN = optionKeys<ScheduleOptions<unknown>>({
  name: true,
  cron: true,
  task: true,
  payload: true,
  timezone: true,
  queue: true,
  priority: true,
  maxAttempts: true,
  missed: true,
  backfillLimit: true,
})

/** Checks done while validating a schedule: the tasks that exist (when known) and the payload size. */
export interface ScheduleValidation {
  /** When given, the task must be one of these names. */
  readonly knownTasks?: ReadonlySet<string>
  readonly maxPayloadBytes?: number
}

/**
 * Validates a schedule and returns it frozen: its name, cron expression (which must fire at least
 * once in the next 100 years), time zone, task, JSON payload and enqueue options. Throws
 * {@link PgqValidationError} naming the bad value. Declare schedules in code (like Celery's
 * `beat_schedule`) and pass them to a worker, or write them with `Schedules.set()`.
 *
 * ```ts
 * export const nightlyReport = defineSchedule({
 *   name: 'nightly-report',
 *   cron: '30 2 * * *',
 *   timezone: 'Europe/Paris',
 *   task: buildReport,
 *   payload: { kind: 'daily' },
 *   missed: 'once',
 * })
 * ```
 */
export function defineSchedule<P>(
  options: ScheduleOptions<P>,
  validation: ScheduleValidation = {},
): ScheduleDefinition {
  assertOptions(options, KNOWN, 'schedule.')
  const name = assertName(options.name, 'schedule.name')
  const definition = typeof options.task === 'string' ? undefined : options.task
  const task = assertName(
    typeof options.task === 'string' ? options.task : options.task?.name,
    'schedule.task',
  )
  if (validation.knownTasks && !validation.knownTasks.has(task)) {
    const known = [...validation.knownTasks].sort().join(', ') || 'none'
    throw new PgqValidationError('schedule.task', `unknown task "${task}"; known tasks: ${known}`, task)
  }
  const spec = parseCron(options.cron, options.timezone ?? 'UTC', 'schedule.cron')
  const missed = options.missed ?? 'skip'
  if (!MISSED_POLICIES.includes(missed)) {
    throw new PgqValidationError('schedule.missed', 'must be "skip", "once" or "all"', missed)
  }
  // A task definition in hand supplies its own defaults (so the schedule fires right even before a
  // worker registered the task); a value left unset is stored as null and resolved at enqueue time
  // from the task registry, the way `enqueue_many` resolves any job that leaves it out.
  const queue = options.queue ?? definition?.queue
  const priority = options.priority ?? definition?.priority
  const maxAttempts = options.maxAttempts ?? definition?.maxAttempts
  return Object.freeze({
    name,
    cron: spec.expression,
    timezone: spec.timeZone,
    task,
    payloadJson: serializeJson(
      options.payload === undefined ? {} : options.payload,
      'schedule.payload',
      validation.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    ),
    queue: queue === undefined ? null : assertName(queue, 'schedule.queue'),
    priority: priority === undefined ? null : assertInt(priority, 'schedule.priority', -32768, 32767),
    maxAttempts: maxAttempts === undefined ? null : assertInt(maxAttempts, 'schedule.maxAttempts', 1, 1000),
    missed,
    backfillLimit: assertInt(options.backfillLimit ?? 100, 'schedule.backfillLimit', 1, 10_000),
  })
}

/**
 * True for a value returned by {@link defineSchedule}.
 *
 * ```ts
 * isScheduleDefinition(defineSchedule({ name: 'a', cron: '@daily', task: 'cleanup' })) // true
 * ```
 */
export function isScheduleDefinition(value: unknown): value is ScheduleDefinition {
  const v = value as ScheduleDefinition | null | undefined
  return (
    typeof v?.name === 'string' &&
    typeof v.cron === 'string' &&
    typeof v.timezone === 'string' &&
    typeof v.task === 'string' &&
    typeof v.payloadJson === 'string' &&
    MISSED_POLICIES.includes(v.missed)
  )
}

/**
 * The schedule definitions among a module's exports: each {@link defineSchedule} result, also
 * inside exported arrays and objects (the way `pgq schedule run --schedules` and workers read a
 * module). Throws {@link PgqValidationError} when two share a name.
 *
 * ```ts
 * const schedules = collectScheduleDefinitions(await import('./schedules.js'))
 * ```
 */
export function collectScheduleDefinitions(exports: Readonly<Record<string, unknown>>): ScheduleDefinition[] {
  const found = new Map<string, ScheduleDefinition>()
  const add = (value: unknown) => {
    if (!isScheduleDefinition(value)) return
    const existing = found.get(value.name)
    if (existing && existing !== value) {
      throw new PgqValidationError('schedules', `two schedules are named "${value.name}"`, value.name)
    }
    found.set(value.name, value)
  }
  for (const value of Object.values(exports)) {
    if (isScheduleDefinition(value)) add(value)
    else if (Array.isArray(value)) value.forEach(add)
    else if (value && typeof value === 'object') Object.values(value).forEach(add)
  }
  return [...found.values()]
}
