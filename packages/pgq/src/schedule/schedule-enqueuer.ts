import type pg from 'pg'
import { assertSchemaName } from '../db/identifiers.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import type { Logger } from '../logger.js'
import { type EnqueueManyJob, encodeEnqueueJob, enqueueJobs, enqueueJobsJson } from '../sql/job-queries.js'
import {
  advanceSchedules,
  claimDueSchedules,
  type DueScheduleRow,
  deleteCodeSchedulesExcept,
  findFiredTicks,
  type ScheduleAdvance,
} from '../sql/schedule-queries.js'
import { transactionControl } from '../sql/transaction-queries.js'
import { assertInt } from '../util/validate.js'
import { PeriodicService, type Service } from '../worker/service.js'
import { nextFireTime, parseCron } from './cron.js'
import { planFires } from './fire-plan.js'
import type { ScheduleDefinition } from './schedule-definition.js'
import { writeDefinitions } from './schedule-writer.js'

/** Options of {@link ScheduleEnqueuer}. */
export interface ScheduleEnqueuerOptions {
  readonly pool: pg.Pool
  readonly schema: string
  readonly logger: Logger
  /** Errors of a pass (the database is down, …); the loop goes on. */
  readonly onError: (component: string, error: unknown) => void
  /** Time between passes in ms (default 1,000; 10-3,600,000). */
  readonly intervalMs?: number
  /**
   * Schedules declared in code, upserted on start (source `code`). When given, code-declared
   * schedules in the table that are not in this list are deleted: declare all of them in one
   * module shared by every process that declares any. Leave it undefined to touch nothing.
   */
  readonly schedules?: readonly ScheduleDefinition[]
  /** When given, every code-declared schedule's task must be one of these (checked at construction). */
  readonly knownTasks?: ReadonlySet<string>
  /** Schedules claimed per transaction (default 100). */
  readonly batchSize?: number
}

/** What one {@link ScheduleEnqueuer.tick} did. */
export interface TickResult {
  /** Schedules claimed (due, or whose next run time was computed). */
  readonly claimed: number
  /** Jobs enqueued. */
  readonly enqueued: number
  /** Schedules marked errored in this pass. */
  readonly errored: number
}

/**
 * Fires due schedules: claims them with `FOR UPDATE SKIP LOCKED`, enqueues their jobs through
 * `enqueue_many` (one job per `(schedule, tick)`), and advances `next_run_at` from the claimed tick,
 * all in one transaction judged by the database clock. Any number may run at once: each tick yields
 * exactly one job. Workers run one by default; `pgq schedule run` runs one alone.
 *
 * ```ts
 * const scheduler = new ScheduleEnqueuer({ pool, schema: 'pgq', logger, onError: console.error })
 * await scheduler.start()
 * await scheduler.stop()
 * ```
 */
export class ScheduleEnqueuer implements Service {
  readonly #options: Required<Omit<ScheduleEnqueuerOptions, 'schedules' | 'knownTasks'>> &
    Pick<ScheduleEnqueuerOptions, 'schedules'>
  readonly #names: SchemaNames
  readonly #loop: PeriodicService
  #started = false

  constructor(options: ScheduleEnqueuerOptions) {
    assertSchemaName(options.schema)
    const intervalMs = assertInt(options.intervalMs ?? 1000, 'intervalMs', 10, 3_600_000)
    const batchSize = assertInt(options.batchSize ?? 100, 'batchSize', 1, 10_000)
    const seen = new Set<string>()
    for (const [index, schedule] of (options.schedules ?? []).entries()) {
      if (seen.has(schedule.name)) {
        throw new PgqValidationError(`schedules[${index}].name`, 'is declared twice', schedule.name)
      }
      seen.add(schedule.name)
      if (options.knownTasks && !options.knownTasks.has(schedule.task)) {
        throw new PgqValidationError(
          `schedules[${index}].task`,
          `unknown task "${schedule.task}"`,
          schedule.task,
        )
      }
    }
    this.#options = Object.freeze({
      pool: options.pool,
      schema: options.schema,
      logger: options.logger,
      onError: options.onError,
      intervalMs,
      batchSize,
      schedules: options.schedules ? Object.freeze([...options.schedules]) : undefined,
    })
    this.#names = schemaNames(options.schema)
    this.#loop = new PeriodicService({
      name: 'scheduler',
      intervalMs,
      run: async (signal) => {
        // keep going while full batches come back (many schedules due at once)
        while (!signal.aborted && (await this.tick()).claimed === batchSize) {}
      },
      onError: options.onError,
    })
  }

  /** Upserts the code-declared schedules, then fires due schedules every `intervalMs`. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    const { schedules, pool, logger } = this.#options
    try {
      if (schedules) {
        await writeDefinitions(pool, this.#names, schedules, 'code')
        const kept = schedules.map((s) => s.name)
        for (const name of await deleteCodeSchedulesExcept(pool, this.#names, kept)) {
          logger.info('code schedule removed (no longer declared)', { schedule: name })
        }
      }
    } catch (error) {
      this.#started = false
      throw error
    }
    this.#loop.start()
  }

  /** Stops the loop and waits for a pass in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#started = false
    await this.#loop.stop()
  }

  /**
   * One pass: fires up to `batchSize` due schedules in one transaction. `now` replaces the database
   * clock (for tests that simulate many ticks).
   */
  async tick(now?: Date): Promise<TickResult> {
    const client = await this.#options.pool.connect()
    // a checked-out client whose connection dies emits 'error': without a listener that would
    // crash the process; the failed query rejects anyway, and the broken client is discarded
    let broken: Error | undefined
    const onError = (error: Error) => {
      broken = error
    }
    client.on('error', onError)
    try {
      await transactionControl(client, 'BEGIN')
      try {
        const rows = await claimDueSchedules(client, this.#names, this.#options.batchSize, now)
        const result = await this.#fire(client, rows)
        await transactionControl(client, 'COMMIT')
        return result
      } catch (error) {
        await transactionControl(client, 'ROLLBACK').catch(() => {})
        throw error
      }
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }

  async #fire(client: pg.PoolClient, rows: DueScheduleRow[]): Promise<TickResult> {
    const advances = new Map<string, ScheduleAdvance>()
    const jobs: { name: string; at: string; json: string }[] = []
    for (const row of rows) {
      try {
        const spec = parseCron(row.cron, row.timezone, 'cron', row.now)
        if (row.next_run_at === null) {
          // new, resumed, or its cron/timezone changed: the first tick after now, nothing to fire
          advances.set(row.name, advance(row.name, nextFireTime(spec, row.now)))
          continue
        }
        const plan = planFires(spec, row.next_run_at, row.now, row.missed, row.backfill_limit)
        const last = plan.fires.at(-1)
        advances.set(row.name, {
          ...advance(row.name, plan.next),
          last_run_at: last?.at.toISOString() ?? null,
        })
        if (plan.skipped > 0)
          this.#options.logger.warn('missed ticks skipped', { schedule: row.name, skipped: plan.skipped })
        for (const fire of plan.fires) {
          jobs.push({ name: row.name, at: fire.at.toISOString(), json: jobJson(row, fire.at, fire.backfill) })
        }
      } catch (error) {
        advances.set(row.name, { ...advance(row.name, null), error: describe(error) })
        this.#options.logger.error('schedule errored', { schedule: row.name, error: describe(error) })
      }
    }
    const fired = await findFiredTicks(
      client,
      this.#names,
      jobs.map((j) => j.name),
      jobs.map((j) => j.at),
    )
    const fresh = jobs.filter((j) => !fired.has(`${j.name}@${j.at}`))
    const enqueued = await this.#enqueue(client, fresh, advances)
    await advanceSchedules(client, this.#names, [...advances.values()])
    const errored = [...advances.values()].filter((a) => a.error !== null).length
    return { claimed: rows.length, enqueued, errored }
  }

  /** Enqueues all jobs at once; if the database refuses one, retries each schedule alone. */
  async #enqueue(
    client: pg.PoolClient,
    jobs: { name: string; at: string; json: string }[],
    advances: Map<string, ScheduleAdvance>,
  ): Promise<number> {
    if (jobs.length === 0) return 0
    const groups = groupByName(jobs)
    const record = (batch: typeof jobs, ids: { id: string }[]) => {
      for (const [name, group] of groupByName(batch)) {
        const lastIndex = batch.lastIndexOf(group.at(-1)!)
        const entry = advances.get(name)
        if (entry) entry.last_job_id = ids[lastIndex]?.id ?? entry.last_job_id
      }
    }
    await transactionControl(client, 'SAVEPOINT')
    try {
      const rows = await enqueueJobs(client, this.#names, enqueueJobsJson(jobs.map((j) => j.json)))
      await transactionControl(client, 'RELEASE')
      record(jobs, rows)
      return rows.length
    } catch {
      await transactionControl(client, 'ROLLBACK TO')
    }
    let count = 0
    for (const [name, group] of groups) {
      await transactionControl(client, 'SAVEPOINT')
      try {
        const rows = await enqueueJobs(client, this.#names, enqueueJobsJson(group.map((j) => j.json)))
        await transactionControl(client, 'RELEASE')
        record(group, rows)
        count += rows.length
      } catch (error) {
        await transactionControl(client, 'ROLLBACK TO')
        advances.set(name, { ...advance(name, null), error: `enqueue failed: ${describe(error)}` })
        this.#options.logger.error('schedule errored', { schedule: name, error: describe(error) })
      }
    }
    return count
  }
}

function advance(name: string, next: Date | null): ScheduleAdvance {
  return {
    name,
    next_run_at: next?.toISOString() ?? null,
    last_run_at: null,
    last_job_id: null,
    error: next === null ? 'never fires again' : null,
  }
}

/**
 * The `enqueue_many` object of one tick's job (the payload is spliced in as stored JSON text). A
 * null queue, priority or max_attempts is left out, so `enqueue_many` applies the task's registered
 * default (`pgq.tasks`), else the global one.
 */
function jobJson(row: DueScheduleRow, at: Date, backfill: boolean): string {
  const job: EnqueueManyJob = {
    task: row.task,
    ...(row.queue === null ? {} : { queue: row.queue }),
    ...(row.priority === null ? {} : { priority: row.priority }),
    schedule_name: row.name,
    scheduled_for: at.toISOString(),
    meta: backfill ? { backfill: true } : {},
    ...(row.max_attempts === null ? {} : { max_attempts: row.max_attempts }),
  }
  return encodeEnqueueJob(job, row.payload)
}

function groupByName<T extends { name: string }>(items: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const group = groups.get(item.name)
    if (group) group.push(item)
    else groups.set(item.name, [item])
  }
  return groups
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.length > 500 ? `${message.slice(0, 500)}…` : message
}
