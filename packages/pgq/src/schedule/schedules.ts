import type pg from 'pg'
import { assertName, assertSchemaName } from '../db/identifiers.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { PgqError, PgqValidationError } from '../errors.js'
import { databaseNow } from '../sql/clock-queries.js'
import {
  deleteSchedule,
  getSchedule,
  listSchedules,
  type ScheduleListRow,
  type ScheduleRow,
  setSchedulePaused,
  triggerSchedule,
} from '../sql/schedule-queries.js'
import { DEFAULT_MAX_PAYLOAD_BYTES, type JsonValue } from '../task/payload.js'
import { assertInt } from '../util/validate.js'
import { nextFireTimes, parseCron } from './cron.js'
import type { MissedPolicy } from './fire-plan.js'
import { defineSchedule, type ScheduleOptions } from './schedule-definition.js'
import { createDefinition, writeDefinitions } from './schedule-writer.js'
import { formatInZone } from './time-zone.js'

/** A stored schedule, as `list()` and `get()` return it. */
export interface ScheduleInfo {
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly task: string
  readonly payload: JsonValue
  /** The queue, or null: the task's registered queue when a job is enqueued, else `default`. */
  readonly queue: string | null
  /** The priority, or null: the task's registered priority when a job is enqueued, else 0. */
  readonly priority: number | null
  /** The attempts, or null: the task's registered attempts when a job is enqueued, else 5. */
  readonly maxAttempts: number | null
  readonly missed: MissedPolicy
  readonly backfillLimit: number
  readonly paused: boolean
  /** `code`: declared in a worker's code (re-applied on its start); `table`: written at runtime. */
  readonly source: 'code' | 'table'
  /** Next tick (null until a scheduler computes it, e.g. after a cron change in SQL). */
  readonly nextRunAt: Date | null
  /** The last tick fired. */
  readonly lastRunAt: Date | null
  readonly lastJobId: string | null
  /** State of the last job (`available`, `running`, `succeeded`, …), null if none or pruned. */
  readonly lastJobState: string | null
  /** Why schedulers skip this schedule (set when its row cannot be fired), else null. */
  readonly error: string | null
  /** `errored`, `paused` or `active`. */
  readonly status: 'errored' | 'paused' | 'active'
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** Options of {@link Schedules}. */
export interface SchedulesOptions {
  readonly pool: pg.Pool
  /** Schema holding pgq's tables (default `pgq`). */
  readonly schema?: string
  /** When given, schedules must name one of these tasks. */
  readonly knownTasks?: ReadonlySet<string>
  /** Largest payload accepted, in bytes of JSON (default 262,144). */
  readonly maxPayloadBytes?: number
}

/**
 * The schedule does not exist (`code` `PGQ_SCHEDULE_NOT_FOUND`, `context.name`).
 *
 * ```ts
 * await schedules.pause('nightly').catch((e) => {
 *   if (!(e instanceof PgqScheduleNotFoundError)) throw e
 * })
 * ```
 */
export class PgqScheduleNotFoundError extends PgqError {
  constructor(name: string) {
    super('PGQ_SCHEDULE_NOT_FOUND', `schedule "${name}" does not exist`, { name })
  }
}

/**
 * Manage periodic schedules at runtime: every change takes effect at the schedulers' next pass,
 * without restarting workers. Writes are validated first (cron, time zone, "never fires", task,
 * payload) and throw {@link PgqValidationError} naming the bad value.
 *
 * ```ts
 * const schedules = new Schedules({ pool, schema: 'pgq' })
 * await schedules.set({ name: 'cleanup', cron: '0 3 * * *', timezone: 'Europe/Paris', task: 'cleanup' })
 * await schedules.pause('cleanup')
 * console.log(await schedules.preview('cleanup', 5))
 * ```
 */
export class Schedules {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #validation: { knownTasks?: ReadonlySet<string>; maxPayloadBytes: number }

  constructor(options: SchedulesOptions) {
    this.#pool = options.pool
    this.#names = schemaNames(assertSchemaName(options.schema ?? 'pgq'))
    this.#validation = Object.freeze({
      knownTasks: options.knownTasks,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    })
  }

  /**
   * Creates a schedule; throws {@link PgqError} `PGQ_SCHEDULE_EXISTS` when the name is taken.
   *
   * ```ts
   * await schedules.add({ name: 'digest', cron: '0 8 * * 1', task: sendDigest, payload: { kind: 'weekly' } })
   * ```
   */
  async add<P>(options: ScheduleOptions<P>): Promise<ScheduleInfo> {
    const row = await createDefinition(this.#pool, this.#names, defineSchedule(options, this.#validation))
    if (!row) {
      throw new PgqError(
        'PGQ_SCHEDULE_EXISTS',
        `schedule "${options.name}" already exists (use set to change it)`,
        {
          name: options.name,
        },
      )
    }
    return toInfo({ ...row, last_job_state: null })
  }

  /**
   * Creates or updates a schedule by name (and clears its error). Its next run time is kept unless
   * the cron expression or time zone changed; `paused` is not changed.
   *
   * ```ts
   * await schedules.set({ name: 'digest', cron: '0 9 * * 1', task: 'send_digest' })
   * ```
   */
  async set<P>(options: ScheduleOptions<P>): Promise<ScheduleInfo> {
    const definition = defineSchedule(options, this.#validation)
    const [row] = await writeDefinitions(this.#pool, this.#names, [definition], 'table')
    return toInfo({ ...row!, last_job_state: null })
  }

  /** All schedules by name, with next and last run and the last job's state. `await schedules.list()` */
  async list(): Promise<ScheduleInfo[]> {
    return (await listSchedules(this.#pool, this.#names)).map(toInfo)
  }

  /** One schedule, or undefined. `await schedules.get('digest')` */
  async get(name: string): Promise<ScheduleInfo | undefined> {
    const row = await getSchedule(this.#pool, this.#names, assertName(name, 'name'))
    return row && toInfo(row)
  }

  /** Deletes a schedule (its jobs stay); false when it did not exist. `await schedules.remove('digest')` */
  async remove(name: string): Promise<boolean> {
    return deleteSchedule(this.#pool, this.#names, assertName(name, 'name'))
  }

  /** Stops firing until resumed. Throws {@link PgqScheduleNotFoundError}. `await schedules.pause('digest')` */
  async pause(name: string): Promise<void> {
    if (!(await setSchedulePaused(this.#pool, this.#names, assertName(name, 'name'), true))) {
      throw new PgqScheduleNotFoundError(name)
    }
  }

  /**
   * Fires again from the next tick on (ticks that passed while paused are not caught up) and clears
   * an error. Throws {@link PgqScheduleNotFoundError}. `await schedules.resume('digest')`
   */
  async resume(name: string): Promise<void> {
    if (!(await setSchedulePaused(this.#pool, this.#names, assertName(name, 'name'), false))) {
      throw new PgqScheduleNotFoundError(name)
    }
  }

  /**
   * Enqueues one job of the schedule now (`meta.trigger = "manual"`), leaving its ticks alone;
   * returns the job id. `const jobId = await schedules.trigger('digest')`
   */
  async trigger(name: string): Promise<string> {
    const id = await triggerSchedule(this.#pool, this.#names, assertName(name, 'name'))
    if (id === null) throw new PgqScheduleNotFoundError(name)
    return id
  }

  /**
   * The next `count` fire times of a stored schedule after the database's `now`, with their local
   * time in the schedule's zone. `await schedules.preview('digest', 5)`
   */
  async preview(name: string, count = 5): Promise<{ at: Date; local: string }[]> {
    assertInt(count, 'count', 1, 1000)
    const row = await getSchedule(this.#pool, this.#names, assertName(name, 'name'))
    if (!row) throw new PgqScheduleNotFoundError(name)
    const now = await databaseNow(this.#pool)
    const spec = parseCron(row.cron, row.timezone, 'cron', now)
    return nextFireTimes(spec, now, count).map((at) => ({ at, local: formatInZone(at, spec.timeZone) }))
  }
}

function toInfo(row: ScheduleListRow | (ScheduleRow & { last_job_state: null })): ScheduleInfo {
  return Object.freeze({
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    task: row.task,
    payload: JSON.parse(row.payload) as JsonValue,
    queue: row.queue,
    priority: row.priority,
    maxAttempts: row.max_attempts,
    missed: row.missed,
    backfillLimit: row.backfill_limit,
    paused: row.paused,
    source: row.source,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastJobId: row.last_job_id,
    lastJobState: row.last_job_state,
    error: row.error,
    status: row.error ? 'errored' : row.paused ? 'paused' : 'active',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  })
}
