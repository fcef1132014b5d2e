import { type Executor, isExecutor } from '../db/executor.js'
import { assertName } from '../db/identifiers.js'
import type { SchemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import { enqueueJobs } from '../sql/job-queries.js'
import { serializeJson } from '../task/payload.js'
import { type AnyTaskDefinition, assertInt, type TaskDefinition } from '../task/task.js'

/** Per-job options of `enqueue`; every field is optional and overrides the task's default. */
export interface EnqueueOptions {
  /** Where to insert: your pool, client inside `BEGIN`, Kysely instance or transaction. */
  readonly db?: Executor
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
   * returns that job instead of creating another.
   */
  readonly dedupKey?: string
  /** `keep` (default): leave the existing job as it is. `replace`: update its payload and run time while it still waits. */
  readonly dedupMode?: 'keep' | 'replace'
}

/** What enqueue returns for each job. */
export interface EnqueuedJob {
  /** The job id (decimal string of a PostgreSQL bigint). */
  readonly id: string
  /** True when an existing job with the same dedup key was returned instead of a new one. */
  readonly deduplicated: boolean
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

const KNOWN = new Set(['db', 'queue', 'priority', 'runAt', 'delayMs', 'maxAttempts', 'dedupKey', 'dedupMode'])

/** @internal Validates one job and returns its JSON object text for `enqueue_many`. */
export function encodeJob(
  task: AnyTaskDefinition | string,
  payload: unknown,
  options: EnqueueOptions,
  maxPayloadBytes: number,
  path: string,
): string {
  if (options === null || typeof options !== 'object') {
    throw new PgqValidationError(`${path}options`, 'must be an object', options)
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new PgqValidationError(`${path}options.${key}`, `unknown option; known: ${[...KNOWN].join(', ')}`)
    }
  }
  const definition = typeof task === 'string' ? undefined : task
  const name = assertName(typeof task === 'string' ? task : task?.name, `${path}task`)
  const spec: Record<string, unknown> = { task: name }
  spec.queue = assertName(options.queue ?? definition?.queue ?? 'default', `${path}options.queue`)
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
    if (typeof options.delayMs !== 'number' || !Number.isFinite(options.delayMs) || options.delayMs < 0) {
      throw new PgqValidationError(`${path}options.delayMs`, 'must be a finite number ≥ 0', options.delayMs)
    }
    spec.delay_ms = options.delayMs
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
  if (options.dedupMode !== undefined) {
    if (options.dedupMode !== 'keep' && options.dedupMode !== 'replace') {
      throw new PgqValidationError(
        `${path}options.dedupMode`,
        'must be "keep" or "replace"',
        options.dedupMode,
      )
    }
    spec.dedup_mode = options.dedupMode
  }
  if (options.db !== undefined && !isExecutor(options.db)) {
    throw new PgqValidationError(
      `${path}options.db`,
      'must be a pg Pool/Client or a Kysely instance/transaction',
    )
  }
  const payloadJson = serializeJson(payload, `${path}payload`, maxPayloadBytes)
  const head = JSON.stringify(spec)
  return `${head.slice(0, -1)},"payload":${payloadJson}}`
}

/** @internal Inserts encoded jobs on one executor; one statement, one NOTIFY per queue. */
export async function insertEncodedJobs(
  db: Executor,
  names: SchemaNames,
  encoded: string[],
): Promise<EnqueuedJob[]> {
  if (encoded.length === 0) return []
  const rows = await enqueueJobs(db, names, `[${encoded.join(',')}]`)
  return rows.map((row) => Object.freeze({ id: row.id, deduplicated: row.deduplicated }))
}
