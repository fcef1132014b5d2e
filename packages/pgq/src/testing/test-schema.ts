import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { JobState } from '../admin/job-record.js'
import type { EnqueueOptions } from '../client/enqueue.js'
import { createPgq, type Pgq } from '../client/pgq.js'
import { schemaNames } from '../db/schema-names.js'
import { PgqExpectationError, PgqValidationError } from '../errors.js'
import { silentLogger } from '../logger.js'
import { Migrator } from '../migrate/migrator.js'
import { ScheduleEnqueuer } from '../schedule/schedule-enqueuer.js'
import { listTestJobs, nextScheduleTick, type TestJobRow } from '../sql/testing-queries.js'
import type { AnyTaskDefinition, TaskDefinition } from '../task/task.js'
import { assertInt, assertOptions, optionKeys } from '../util/validate.js'
import { type JobRun, TestJobRunner } from './job-runner.js'

/**
 * Options of {@link createTestSchema}.
 *
 * ```ts
 * const options: TestSchemaOptions = { connectionString: process.env.TEST_DATABASE_URL, tasks: [sendEmail] }
 * ```
 */
export interface TestSchemaOptions {
  /** The test database (default: `DATABASE_URL`). Ignored when `pool` is given. */
  readonly connectionString?: string
  /** Your own pool instead (not closed by `drop`). */
  readonly pool?: pg.Pool
  /** The tasks `drain` can run (`runJob` runs the task it is given). */
  readonly tasks?: readonly AnyTaskDefinition[]
  /** Prefix of the schema's name (default `pgq_test`); a random suffix makes it unique. */
  readonly schemaPrefix?: string
}

/**
 * Options of {@link TestSchema.drain}.
 *
 * ```ts
 * const tomorrow: DrainOptions = { queues: ['emails'], now: new Date(Date.now() + 86_400_000) }
 * ```
 */
export interface DrainOptions {
  /** Only jobs of these queues (default: every queue). */
  readonly queues?: readonly string[]
  /**
   * The time the drain runs at: jobs with `run_at` ≤ `now` are due (delayed jobs, retries and
   * snoozes included), and schedule ticks up to `now` fire first. Default: the database clock.
   */
  readonly now?: Date
  /** Stop with an error after this many runs (default 1,000): a task that enqueues itself forever. */
  readonly maxRuns?: number
}

/**
 * Which jobs {@link TestSchema.enqueuedJobs} returns; every field narrows.
 *
 * ```ts
 * const filter: EnqueuedFilter = { task: sendEmail, state: 'available', payload: { to: 'a@example.com' } }
 * ```
 */
export interface EnqueuedFilter {
  readonly task?: AnyTaskDefinition | string
  readonly queue?: string
  readonly state?: JobState | readonly JobState[]
  /** JSON containment: the job's payload includes these keys and values (`payload @> …`). */
  readonly payload?: unknown
}

/**
 * A job as {@link TestSchema.enqueuedJobs} reports it.
 *
 * ```ts
 * const [job]: EnqueuedJobRecord[] = await queue.enqueuedJobs({ task: sendEmail })
 * ```
 */
export interface EnqueuedJobRecord {
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly state: JobState
  readonly payload: unknown
  readonly priority: number
  readonly attempts: number
  readonly maxAttempts: number
  readonly runAt: Date
  readonly dedupKey: string | null
  readonly scheduleName: string | null
}

/**
 * An isolated, migrated pgq schema for one test file, and the helpers that run its jobs.
 *
 * ```ts
 * const queue: TestSchema = await createTestSchema({ tasks: [sendEmail] })
 * await queue.pgq.enqueue(sendEmail, { to: 'a@example.com' })
 * expect(await queue.drain()).toHaveLength(1)
 * ```
 */
export interface TestSchema {
  /** The schema's name (`pgq_test_…`). */
  readonly schema: string
  readonly pool: pg.Pool
  /** A pgq client on this schema: enqueue, jobs, schedules as in the application. */
  readonly pgq: Pgq
  /**
   * Enqueues one job of `task` (validated as `enqueue` does) and runs it now, once, with a real
   * context (`ctx.step`, `ctx.progress`, `ctx.transaction` write to this schema). Returns how the
   * run ended; a retry is not run (see `drain`).
   */
  runJob<P, R>(
    task: TaskDefinition<P, R>,
    payload: P,
    options?: Omit<EnqueueOptions, 'db' | 'runAt' | 'delayMs'>,
  ): Promise<JobRun<R>>
  /**
   * Runs every due job of the known tasks, one at a time in `run_at` order, including the jobs
   * the handlers enqueue, until none is due; returns each run in order.
   */
  drain(options?: DrainOptions): Promise<JobRun[]>
  /** The jobs of this schema matching `filter`, oldest first. */
  enqueuedJobs(filter?: EnqueuedFilter): Promise<EnqueuedJobRecord[]>
  /** The first job of `task` whose payload contains `payload`; throws `PgqExpectationError` if none. */
  expectEnqueued(task: AnyTaskDefinition | string, payload?: unknown): Promise<EnqueuedJobRecord>
  /** Drops the schema and closes what `createTestSchema` opened. */
  drop(): Promise<void>
}

const KNOWN = optionKeys<TestSchemaOptions>({
  connectionString: true,
  pool: true,
  tasks: true,
  schemaPrefix: true,
})

/**
 * Creates an isolated pgq schema for a test file (a random name, migrated), with a pgq client on
 * it and helpers to run jobs: `runJob`, `drain`, `enqueuedJobs`, `expectEnqueued`. See
 * docs/testing.md.
 *
 * ```ts
 * const queue = await createTestSchema({ tasks: [sendEmail] })
 * afterAll(() => queue.drop())
 * const run = await queue.runJob(sendEmail, { to: 'a@example.com' })
 * expect(run.state).toBe('succeeded')
 * ```
 */
export async function createTestSchema(options: TestSchemaOptions = {}): Promise<TestSchema> {
  assertOptions(options, KNOWN, 'testing.')
  const prefix = options.schemaPrefix ?? 'pgq_test'
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) {
    throw new PgqValidationError('testing.schemaPrefix', 'must be 1-41 characters of a-z 0-9 _', prefix)
  }
  const connectionString = options.connectionString ?? process.env.DATABASE_URL
  if (!options.pool && !connectionString) {
    throw new PgqValidationError(
      'testing.connectionString',
      'pass connectionString or pool, or set DATABASE_URL',
    )
  }
  const pool = options.pool ?? new pg.Pool({ connectionString, max: 10 })
  if (!options.pool) pool.on('error', () => {})
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`
  try {
    await new Migrator({ pool, schema }).migrate()
  } catch (error) {
    if (!options.pool) await pool.end()
    throw error
  }
  const pgq = createPgq({ pool, schema })
  const runner = new TestJobRunner(pool, pgq.names, pgq.config.maxPayloadBytes)
  const tasks = [...(options.tasks ?? [])]

  const enqueuedJobs = async (filter: EnqueuedFilter = {}): Promise<EnqueuedJobRecord[]> => {
    const states =
      filter.state === undefined ? null : typeof filter.state === 'string' ? [filter.state] : filter.state
    const rows = await listTestJobs(pool, pgq.names, {
      ids: null,
      task:
        filter.task === undefined ? null : typeof filter.task === 'string' ? filter.task : filter.task.name,
      queue: filter.queue ?? null,
      states,
      payload: filter.payload === undefined ? null : JSON.stringify(filter.payload),
    })
    return rows.map(toRecord)
  }

  return Object.freeze({
    schema,
    pool,
    pgq,
    async runJob<P, R>(
      task: TaskDefinition<P, R>,
      payload: P,
      enqueue: Omit<EnqueueOptions, 'db' | 'runAt' | 'delayMs'> = {},
    ) {
      const { id } = await pgq.enqueue(task, payload, enqueue)
      const run = await runner.runNext([task, ...tasks.filter((t) => t.name !== task.name)], { id })
      if (!run) {
        throw new PgqExpectationError(
          `job ${id} of task "${task.name}" could not be run: it was not created (deduplicated)`,
          {
            jobId: id,
          },
        )
      }
      return run as JobRun<R>
    },
    async drain(drain: DrainOptions = {}) {
      const maxRuns = assertInt(drain.maxRuns ?? 1_000, 'drain.maxRuns', 1, 1_000_000)
      if (drain.now !== undefined && (!(drain.now instanceof Date) || Number.isNaN(drain.now.getTime()))) {
        throw new PgqValidationError('drain.now', 'must be a valid Date', drain.now)
      }
      if (drain.now) await fireSchedules(pool, schema, drain.now, maxRuns)
      const runs: JobRun[] = []
      for (;;) {
        const run = await runner.runNext(tasks, { queues: drain.queues, now: drain.now })
        if (!run) return runs
        runs.push(run)
        if (runs.length >= maxRuns) {
          throw new PgqExpectationError(
            `drain ran ${maxRuns} jobs and more are due (a task enqueueing itself?)`,
            {
              maxRuns,
            },
          )
        }
      }
    },
    enqueuedJobs,
    async expectEnqueued(task: AnyTaskDefinition | string, payload?: unknown) {
      const name = typeof task === 'string' ? task : task.name
      const [match] = await enqueuedJobs({ task: name, payload })
      if (match) return match
      const found = (await enqueuedJobs({ task: name })).map((job) => job.payload)
      throw new PgqExpectationError(
        `no job of task "${name}"${payload === undefined ? '' : ` with a payload containing ${JSON.stringify(payload)}`} was enqueued (${found.length} job(s) of that task: ${JSON.stringify(found.slice(0, 5))})`,
        { task: name, payload, found },
      )
    },
    async drop() {
      await pgq.close()
      await pool.query(`DROP SCHEMA IF EXISTS ${pgq.names.quoted} CASCADE`)
      if (!options.pool) await pool.end()
    },
  })
}

/** Fires every schedule tick up to `now`, each at its own time, as a scheduler running all along would. */
async function fireSchedules(pool: pg.Pool, schema: string, now: Date, maxTicks: number): Promise<void> {
  const scheduler = new ScheduleEnqueuer({ pool, schema, logger: silentLogger, onError: () => {} })
  const names = schemaNames(schema)
  for (let ticks = 0; ticks < maxTicks; ticks++) {
    const at = await nextScheduleTick(pool, names, now)
    if (!at) return
    await scheduler.tick(at)
  }
}

function toRecord(row: TestJobRow): EnqueuedJobRecord {
  return Object.freeze({
    id: row.id,
    task: row.task,
    queue: row.queue,
    state: row.state as JobState,
    payload: row.payload,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: row.run_at,
    dedupKey: row.dedup_key,
    scheduleName: row.schedule_name,
  })
}
