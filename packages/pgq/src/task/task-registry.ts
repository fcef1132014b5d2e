import type pg from 'pg'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { PgqError } from '../errors.js'
import { selectTasks, selectUnknownTasks, type TaskRow } from '../sql/task-queries.js'

/**
 * A task as a worker registered it in `<schema>.tasks` (at its start): the defaults SQL, CLI and
 * TypeScript enqueue apply when a job does not set them.
 *
 * ```ts
 * const task = await new TaskRegistry({ pool, schema: 'pgq' }).get('send_email')
 * console.log(task?.queue, task?.maxAttempts, task?.lastSeenAt)
 * ```
 */
export interface RegisteredTask {
  readonly name: string
  readonly queue: string
  readonly priority: number
  readonly maxAttempts: number
  /** The retry backoff the task's workers apply (`backoff`, `baseDelayMs`, `maxDelayMs`, `jitter`). */
  readonly backoff: Readonly<Record<string, unknown>>
  readonly timeoutMs: number | null
  readonly hardTimeoutGraceMs: number | null
  readonly deadLetterQueue: string | null
  /** The task's `payloadSchema` (a JSON Schema), when its definition gives one. */
  readonly payloadSchema: unknown
  /** True when the task's definition validates payloads (`parsePayload`). */
  readonly validatesPayload: boolean
  readonly firstSeenAt: Date
  /** When a worker running this task last started. */
  readonly lastSeenAt: Date
  /** The id of that worker (`workers.id`, `jobs.locked_by`) and its host. */
  readonly lastSeenBy: string | null
  readonly lastSeenHostname: string | null
}

/**
 * Waiting jobs of a task that no worker has registered: nothing can run them (a typo, a task
 * removed from the code, a worker not deployed yet). One entry per (task, queue).
 *
 * ```ts
 * for (const u of await registry.unknown()) console.warn(`${u.waiting} ${u.task} jobs have no worker`)
 * ```
 */
export interface UnknownTask {
  readonly task: string
  readonly queue: string
  readonly waiting: number
  readonly oldestCreatedAt: Date
}

/**
 * A task name that no worker has registered, refused by `pgq enqueue` unless `--force`.
 *
 * ```ts
 * await registry.require('send_emial').catch((e) => e instanceof PgqUnknownTaskError && console.error(e.message))
 * ```
 */
export class PgqUnknownTaskError extends PgqError {
  readonly task: string

  constructor(task: string, schema: string, known: readonly string[]) {
    const hint = known.length > 0 ? `; registered: ${known.slice(0, 20).join(', ')}` : '; none registered yet'
    super(
      'PGQ_UNKNOWN_TASK',
      `task "${task}" is not registered in schema "${schema}": no worker has started with it, so nothing would run the job${hint}`,
      { task, schema },
    )
    this.task = task
  }
}

/** Options of {@link TaskRegistry}. */
export interface TaskRegistryOptions {
  readonly pool: pg.Pool
  readonly schema: string
}

/**
 * Reads the task registry: what workers registered, and which waiting jobs no worker can run.
 *
 * ```ts
 * const registry = new TaskRegistry({ pool, schema: 'pgq' })
 * const tasks = await registry.list()
 * const orphans = await registry.unknown()
 * ```
 */
export class TaskRegistry {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames

  constructor(options: TaskRegistryOptions) {
    this.#pool = options.pool
    this.#names = schemaNames(options.schema)
  }

  /** Every registered task, by name. */
  async list(): Promise<RegisteredTask[]> {
    return (await selectTasks(this.#pool, this.#names)).map(toRegisteredTask)
  }

  /** One registered task, or undefined. */
  async get(name: string): Promise<RegisteredTask | undefined> {
    const [row] = await selectTasks(this.#pool, this.#names, name)
    return row ? toRegisteredTask(row) : undefined
  }

  /** The registered task, or a {@link PgqUnknownTaskError} naming the registered ones. */
  async require(name: string): Promise<RegisteredTask> {
    const task = await this.get(name)
    if (task) return task
    const known = (await this.list()).map((t) => t.name)
    throw new PgqUnknownTaskError(name, this.#names.schema, known)
  }

  /** Waiting jobs whose task no worker registered, most waiting first. */
  async unknown(): Promise<UnknownTask[]> {
    return (await selectUnknownTasks(this.#pool, this.#names)).map((row) =>
      Object.freeze({
        task: row.task,
        queue: row.queue,
        waiting: row.waiting,
        oldestCreatedAt: row.oldest_created_at,
      }),
    )
  }
}

function toRegisteredTask(row: TaskRow): RegisteredTask {
  return Object.freeze({
    name: row.name,
    queue: row.queue,
    priority: row.priority,
    maxAttempts: row.max_attempts,
    backoff: Object.freeze({ ...row.backoff }),
    timeoutMs: row.timeout_ms,
    hardTimeoutGraceMs: row.hard_timeout_grace_ms,
    deadLetterQueue: row.dead_letter_queue,
    payloadSchema: row.payload_schema,
    validatesPayload: row.validates_payload,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    lastSeenBy: row.last_seen_by,
    lastSeenHostname: row.last_seen_hostname,
  })
}
