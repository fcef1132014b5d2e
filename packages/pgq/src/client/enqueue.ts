import { type Executor, isExecutor } from '../db/executor.js'
import { assertName } from '../db/identifiers.js'
import type { SchemaNames } from '../db/schema-names.js'
import type { StatementMode } from '../db/statement-mode.js'
import { PgqValidationError } from '../errors.js'
import {
  canInsertDirectly,
  type EnqueueManyJob,
  encodeEnqueueJob,
  enqueueJobs,
  enqueueJobsJson,
  insertJobsDirectly,
  insertOneJob,
} from '../sql/job-queries.js'
import { serializeJson } from '../task/payload.js'
import { checkPayloadAtEnqueue, payloadValidatorOf } from '../task/payload-validation.js'
import type { AnyTaskDefinition, TaskDefinition } from '../task/task.js'
import type { TraceCarrier } from '../tracing/trace-context.js'
import type { Tracing } from '../tracing/tracing.js'
import { assertInt, assertNumber, assertOptions, optionKeys } from '../util/validate.js'
import type { EnqueueWakes } from './enqueue-wakes.js'
import { encodeFlowOptions, type FlowEnqueueOptions } from './flow-options.js'

/** Per-job options of `enqueue`; every field is optional and overrides the task's default. */
export interface EnqueueOptions extends FlowEnqueueOptions {
  /** Where to insert: your pool, client inside `BEGIN`, Kysely instance or transaction. */
  readonly db?: Executor
  /** Queue to wait in (default: the task's; for a task named by string, its registered queue, else `default`). */
  readonly queue?: string
  /** Higher runs first (default: the task's, else 0). */
  readonly priority?: number
  /** Run no earlier than this instant. */
  readonly runAt?: Date
  /** Run no earlier than this many ms from now (by the database clock; added to `runAt` if both). */
  readonly delayMs?: number
  readonly maxAttempts?: number
  /**
   * Deduplication key: while a job of the same task with this key is waiting or running, enqueue
   * returns that job instead of creating another (see `dedupMode`).
   */
  readonly dedupKey?: string
  /**
   * What a second job with a held `dedupKey` does (docs/enqueue.md#deduplication):
   * - `keep` (default): nothing; the existing job is returned.
   * - `replace`: the waiting job takes the new payload and options; a running job keeps running and
   *   the new payload runs after it, as a new job (outcome `queued_after`).
   * - `debounce`: as `replace`, and the job runs `dedupWindowMs` after the last enqueue (the last
   *   payload wins once the key has been quiet for the window).
   * - `throttle`: at most one job per `dedupWindowMs` per key; later ones are not created (outcome
   *   `throttled`, with the id of the job that opened the window).
   */
  readonly dedupMode?: DedupMode
  /** The window of `debounce` and `throttle`, in ms (required by them, refused by the others). */
  readonly dedupWindowMs?: number
}

/**
 * How deduplication treats a job whose `dedupKey` is held; see {@link EnqueueOptions.dedupMode}.
 *
 * ```ts
 * const mode: DedupMode = 'debounce'
 * ```
 */
export type DedupMode = 'keep' | 'replace' | 'debounce' | 'throttle'

/**
 * What happened to one enqueued job:
 * `created` (a new job, `id`); `deduplicated` (`keep`: the live job `id` holds the key);
 * `replaced` (the waiting job `id` took the new payload); `queued_after` (job `id` is running: the
 * new payload becomes a new job when it finishes); `throttled` (job `id` opened the window; nothing
 * was created).
 *
 * ```ts
 * const { outcome } = await pgq.enqueue(syncCrm, { userId: 7 }, { dedupKey: 'crm:7', dedupMode: 'replace' })
 * if (outcome === 'queued_after') console.log('runs after the sync in progress')
 * ```
 */
export type EnqueueOutcome = 'created' | 'deduplicated' | 'replaced' | 'queued_after' | 'throttled'

/** What enqueue returns for each job. */
export interface EnqueuedJob {
  /** The job id (decimal string of a PostgreSQL bigint): the new job, or the one holding the dedup key. */
  readonly id: string
  /** True when no new job was created (`outcome` is not `created`). */
  readonly deduplicated: boolean
  /** What happened; see {@link EnqueueOutcome}. */
  readonly outcome: EnqueueOutcome
}

/** One job of a bulk enqueue. */
export interface JobSpec {
  readonly task: AnyTaskDefinition | string
  readonly payload: unknown
  readonly options?: Omit<EnqueueOptions, 'db'>
}

/**
 * Builds one job of a bulk enqueue with its payload type-checked against the task.
 *
 * ```ts
 * await pgq.enqueueMany([jobSpec(sendEmail, { to: 'a@example.com' }), jobSpec(syncCrm, { userId: 7 })])
 * ```
 */
export function jobSpec<P>(
  task: TaskDefinition<P, unknown> | string,
  payload: P,
  options?: Omit<EnqueueOptions, 'db'>,
): JobSpec {
  return options === undefined ? { task, payload } : { task, payload, options }
}

const KNOWN = optionKeys<EnqueueOptions>({
  db: true,
  queue: true,
  priority: true,
  runAt: true,
  delayMs: true,
  maxAttempts: true,
  dedupKey: true,
  dedupMode: true,
  dedupWindowMs: true,
  concurrencyKey: true,
  expireInMs: true,
  expiresAt: true,
  singleton: true,
})
const DEDUP_MODES: ReadonlySet<unknown> = new Set(['keep', 'replace', 'debounce', 'throttle'])
/** Longest dedup window: about 24.8 days (a 32-bit millisecond count). */
const MAX_DEDUP_WINDOW_MS = 2 ** 31 - 1
/** The fields of one `enqueue_many` job, filled in as they are validated. */
type JobFields = { -readonly [K in keyof EnqueueManyJob]: EnqueueManyJob[K] }

/** @internal A validated job of `enqueue_many`, not encoded yet (its payload is JSON text). */
export interface PreparedJob {
  readonly spec: EnqueueManyJob
  readonly payloadJson: string
}

/** @internal Validates one job for `enqueue_many`: nothing is written before every job passes. */
export function prepareJob(
  task: AnyTaskDefinition | string,
  payload: unknown,
  options: EnqueueOptions,
  maxPayloadBytes: number,
  path: string,
): PreparedJob {
  assertOptions(options, KNOWN, `${path}options.`)
  const definition = typeof task === 'string' ? undefined : task
  const name = assertName(typeof task === 'string' ? task : task?.name, `${path}task`)
  const spec: JobFields = { task: name }
  // left out, a value comes from the database: the registered task's default, else the global one
  const queue = options.queue ?? definition?.queue
  if (queue !== undefined) spec.queue = assertName(queue, `${path}options.queue`)
  const priority = options.priority ?? definition?.priority
  if (priority !== undefined) spec.priority = assertInt(priority, `${path}options.priority`, -32768, 32767)
  const maxAttempts = options.maxAttempts ?? definition?.maxAttempts
  if (maxAttempts !== undefined)
    spec.max_attempts = assertInt(maxAttempts, `${path}options.maxAttempts`, 1, 1000)
  if (options.runAt !== undefined) {
    if (!(options.runAt instanceof Date) || Number.isNaN(options.runAt.getTime())) {
      throw new PgqValidationError(`${path}options.runAt`, 'must be a valid Date', options.runAt)
    }
    spec.run_at = options.runAt.toISOString()
  }
  if (options.delayMs !== undefined) {
    spec.delay_ms = assertNumber(
      options.delayMs,
      `${path}options.delayMs`,
      0,
      Number.POSITIVE_INFINITY,
      'must be a finite number ≥ 0',
    )
  }
  if (options.dedupKey !== undefined) {
    if (
      typeof options.dedupKey !== 'string' ||
      options.dedupKey.length < 1 ||
      options.dedupKey.length > 512
    ) {
      throw new PgqValidationError(
        `${path}options.dedupKey`,
        'must be a string of 1-512 characters',
        options.dedupKey,
      )
    }
    serializeJson(options.dedupKey, `${path}options.dedupKey`, 2048)
    spec.dedup_key = options.dedupKey
  }
  encodeDedupMode(options, spec, path)
  encodeFlowOptions(options, definition, payload, spec, path)
  if (options.db !== undefined && !isExecutor(options.db)) {
    throw new PgqValidationError(
      `${path}options.db`,
      'must be a pg Pool/Client, or a Kysely, Knex, Drizzle or Prisma instance or transaction',
    )
  }
  const payloadJson = serializeJson(payload, `${path}payload`, maxPayloadBytes)
  const check = definition && payloadValidatorOf(definition)
  if (check) checkPayloadAtEnqueue(check.validator, payload, `${path}payload`, check.label)
  return { spec, payloadJson }
}

function encodeDedupMode(options: EnqueueOptions, spec: JobFields, path: string): void {
  const mode = options.dedupMode
  if (mode !== undefined) {
    if (!DEDUP_MODES.has(mode)) {
      throw new PgqValidationError(
        `${path}options.dedupMode`,
        'must be "keep", "replace", "debounce" or "throttle"',
        mode,
      )
    }
    spec.dedup_mode = mode as DedupMode
  }
  const windowed = mode === 'debounce' || mode === 'throttle'
  if (windowed && options.dedupKey === undefined) {
    throw new PgqValidationError(`${path}options.dedupKey`, `is required by dedupMode "${mode}"`)
  }
  if (options.dedupWindowMs === undefined) {
    if (windowed) {
      throw new PgqValidationError(`${path}options.dedupWindowMs`, `is required by dedupMode "${mode}"`)
    }
    return
  }
  if (!windowed) {
    throw new PgqValidationError(
      `${path}options.dedupWindowMs`,
      'applies to dedupMode "debounce" and "throttle" only',
      options.dedupWindowMs,
    )
  }
  spec.dedup_window_ms = assertNumber(
    options.dedupWindowMs,
    `${path}options.dedupWindowMs`,
    1,
    MAX_DEDUP_WINDOW_MS,
  )
}

/** @internal What an enqueue on the client's own pool (no `db`) may use. */
export interface OwnPool {
  readonly statements: StatementMode
  readonly wakes: EnqueueWakes
}

function created(id: string): EnqueuedJob {
  return Object.freeze({ id, deduplicated: false, outcome: 'created' as const })
}

/**
 * @internal Inserts prepared jobs on one executor: one statement, one NOTIFY per queue. With
 * tracing on, inside an enqueue span whose W3C context each job stores in `meta.trace`.
 */
export async function insertJobs(
  db: Executor,
  names: SchemaNames,
  jobs: readonly PreparedJob[],
  tracing: Tracing,
  own?: OwnPool,
): Promise<EnqueuedJob[]> {
  if (jobs.length === 0) return []
  if (tracing.loading) await tracing.settled() // only until the optional API's import settled
  const trace = tracing.startEnqueue(jobs.map((job) => job.spec))
  if (!trace) return insertEncoded(db, names, jobs, undefined, own)
  try {
    const inserted = await insertEncoded(db, names, jobs, trace.carrier, own)
    trace.end(inserted)
    return inserted
  } catch (error) {
    trace.fail(error)
    throw error
  }
}

async function insertEncoded(
  db: Executor,
  names: SchemaNames,
  jobs: readonly PreparedJob[],
  carrier?: TraceCarrier,
  own?: OwnPool,
): Promise<EnqueuedJob[]> {
  const meta = carrier ? { trace: carrier } : undefined
  const withMeta = (spec: EnqueueManyJob): EnqueueManyJob => (meta ? { ...spec, meta } : spec)
  if (jobs.length === 1 && canInsertDirectly(jobs[0]!.spec)) {
    const { spec, payloadJson } = jobs[0]!
    const job = withMeta(spec)
    if (!own) return [created((await insertOneJob(db, names, job, payloadJson)).id)]
    // on pgq's own pool: named (planned once per connection), and with another enqueue in flight
    // the wake-up is sent after the commit, folded with the others (client/enqueue-wakes.ts)
    const dueNow = job.run_at === undefined && job.delay_ms === undefined
    const later = own.wakes.begin() && dueNow
    try {
      const row = await own.statements.run((prepared) =>
        insertOneJob(db, names, job, payloadJson, prepared, !later),
      )
      if (later) await own.wakes.send(row.queue, row.id)
      return [created(row.id)]
    } finally {
      own.wakes.end()
    }
  }
  if (jobs.every((job) => canInsertDirectly(job.spec))) {
    // unnamed: a batch's plan is cheap beside its rows
    const ids = await insertJobsDirectly(
      db,
      names,
      jobs.map(({ spec, payloadJson }) => ({ job: withMeta(spec), payloadJson })),
    )
    return ids.map(created)
  }
  const encoded = jobs.map(({ spec, payloadJson }) => encodeEnqueueJob(withMeta(spec), payloadJson))
  const rows = await enqueueJobs(db, names, enqueueJobsJson(encoded))
  return rows.map((row) =>
    Object.freeze({ id: row.id, deduplicated: row.deduplicated, outcome: row.outcome }),
  )
}
