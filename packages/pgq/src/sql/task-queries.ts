import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import type { AnyTaskDefinition } from '../task/task.js'

/** @internal One row of the task registry (`<schema>.tasks`). */
export interface TaskRow {
  name: string
  queue: string
  priority: number
  max_attempts: number
  backoff: Record<string, unknown>
  timeout_ms: number | null
  hard_timeout_grace_ms: number | null
  dead_letter_queue: string | null
  payload_schema: unknown
  validates_payload: boolean
  concurrency_key_path: string | null
  expire_in_ms: number | null
  first_seen_at: Date
  last_seen_at: Date
  last_seen_by: string | null
  last_seen_hostname: string | null
}

/** @internal One row of the `unknown_tasks` view: waiting jobs of a task no worker registered. */
export interface UnknownTaskRow {
  task: string
  queue: string
  waiting: number
  oldest_created_at: Date
}

/** Default attempts of a task that does not set `maxAttempts` (the same as the jobs table's). */
const DEFAULT_MAX_ATTEMPTS = 5

function tasksTable(names: SchemaNames): string {
  return `${names.quoted}.tasks`
}

/**
 * @internal Upserts the tasks a worker runs into the registry, so SQL and CLI enqueue apply their
 * defaults: one statement, rows in name order (two workers starting at once lock them in the same
 * order). The latest registration of a task wins.
 */
export async function registerTasks(
  db: Executor,
  names: SchemaNames,
  tasks: Iterable<AnyTaskDefinition>,
  by: { readonly workerId: string; readonly hostname: string },
): Promise<void> {
  const rows = [...tasks]
    .map((task) => ({
      name: task.name,
      queue: task.queue,
      priority: task.priority ?? 0,
      max_attempts: task.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      backoff: {
        backoff: task.retryPolicy.backoff,
        baseDelayMs: task.retryPolicy.baseDelayMs,
        maxDelayMs: task.retryPolicy.maxDelayMs,
        jitter: task.retryPolicy.jitter,
      },
      timeout_ms: task.timeoutMs ?? null,
      hard_timeout_grace_ms: task.hardTimeoutGraceMs ?? null,
      dead_letter_queue: task.deadLetterQueue ?? null,
      payload_schema: task.payloadSchema ?? null,
      validates_payload: task.parsePayload !== undefined || task.schema !== undefined,
      concurrency_key_path: typeof task.concurrencyKey === 'string' ? task.concurrencyKey : null,
      expire_in_ms: task.expireInMs ?? null,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  if (rows.length === 0) return
  await runQuery(
    db,
    `INSERT INTO ${tasksTable(names)} AS t (
       name, queue, priority, max_attempts, backoff, timeout_ms, hard_timeout_grace_ms,
       dead_letter_queue, payload_schema, validates_payload, concurrency_key_path, expire_in_ms,
       last_seen_by, last_seen_hostname)
     SELECT x.name, x.queue, x.priority, x.max_attempts, x.backoff, x.timeout_ms, x.hard_timeout_grace_ms,
       x.dead_letter_queue, x.payload_schema, x.validates_payload, x.concurrency_key_path, x.expire_in_ms,
       $2::uuid, $3
     FROM jsonb_to_recordset($1::jsonb) AS x(
       name text, queue text, priority smallint, max_attempts smallint, backoff jsonb, timeout_ms integer,
       hard_timeout_grace_ms integer, dead_letter_queue text, payload_schema jsonb, validates_payload boolean,
       concurrency_key_path text, expire_in_ms float8)
     ORDER BY x.name
     ON CONFLICT (name) DO UPDATE SET
       queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
       backoff = excluded.backoff, timeout_ms = excluded.timeout_ms,
       hard_timeout_grace_ms = excluded.hard_timeout_grace_ms,
       dead_letter_queue = excluded.dead_letter_queue, payload_schema = excluded.payload_schema,
       validates_payload = excluded.validates_payload, concurrency_key_path = excluded.concurrency_key_path,
       expire_in_ms = excluded.expire_in_ms, last_seen_at = now(),
       last_seen_by = excluded.last_seen_by, last_seen_hostname = excluded.last_seen_hostname`,
    [JSON.stringify(rows), by.workerId, by.hostname],
  )
}

/** @internal The registered tasks, by name. */
export async function selectTasks(db: Executor, names: SchemaNames, name?: string): Promise<TaskRow[]> {
  const result = await runQuery<TaskRow>(
    db,
    `SELECT * FROM ${tasksTable(names)} WHERE $1::text IS NULL OR name = $1 ORDER BY name`,
    [name ?? null],
  )
  return result.rows
}

/** @internal Waiting jobs whose task no worker registered, most waiting first. */
export async function selectUnknownTasks(db: Executor, names: SchemaNames): Promise<UnknownTaskRow[]> {
  const result = await runQuery<UnknownTaskRow>(
    db,
    `SELECT task, queue, waiting::float8 AS waiting, oldest_created_at
     FROM ${names.quoted}.unknown_tasks ORDER BY waiting DESC, task, queue`,
  )
  return result.rows
}
