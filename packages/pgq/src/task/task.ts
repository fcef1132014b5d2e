import type pg from 'pg'
import { assertName } from '../db/identifiers.js'
import { PgqValidationError } from '../errors.js'
import { assertInt, assertOptions, MAX_TIMER_MS, optionKeys } from '../util/validate.js'
import { type TaskIsolationOptions, validateTaskIsolation } from '../worker/isolation/isolation-config.js'
import { assertKeySource, type ConcurrencyKeySource } from './concurrency-key.js'
import type { JsonValue } from './payload.js'
import { assertPayloadValidator, assertStandardSchema, type PayloadValidator } from './payload-validation.js'
import { type RetryPolicy, type RetryPolicyOptions, resolveRetryPolicy } from './retry-policy.js'
import type { InferSchemaInput, InferSchemaOutput, StandardSchemaV1 } from './standard-schema.js'

/** What a handler receives besides its payload. */
export interface TaskContext {
  /** The job's id (a decimal string; ids are PostgreSQL `bigint`s). */
  readonly jobId: string
  readonly task: string
  readonly queue: string
  /** 1 for the first run, 2 for the first retry, … (interrupted runs are not counted). */
  readonly attempt: number
  readonly maxAttempts: number
  /**
   * Aborted when the job should stop: its time limit passed, it was cancelled, its lease was lost,
   * or the worker is shutting down past its grace period. Pass it to `fetch`, streams, timers.
   */
  readonly signal: AbortSignal
  /**
   * Reports progress, visible at once to readers of the job (throttled; the last value always
   * lands). `value` is a number (e.g. percent) and/or a small JSON object.
   */
  progress(value: number | null, meta?: JsonValue): Promise<void>
  /**
   * A durable step: runs `fn` once per job across attempts. When `fn` succeeds its result (JSON)
   * is stored on the job at once; a retry, or a run rescued after a crash, gets the stored result
   * back without running `fn` again. Names must be stable across runs and unique within one run
   * (a duplicate throws `StepError`); code outside steps runs again on every attempt. The value
   * returned is the stored JSON (a `Date` is refused: return `toISOString()`). Works in every
   * isolation mode (a thread or process sends the result to the worker, which stores it). See
   * docs/workflows.md, "Durable steps".
   *
   * ```ts
   * const charge = await ctx.step('charge', () => payments.charge(payload.orderId))
   * await ctx.step('email', () => mailer.receipt(payload.email, charge.id))
   * ```
   */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>
  /**
   * Ends the attempt now and runs the job again once `duration` has passed (ms, or `'30s'`,
   * `'5m'`, `'2h'`, `'7d'`), without holding a worker slot and without spending an attempt. The
   * sleep is recorded on the job like a step: on the next run the same `ctx.sleep` returns at once
   * and the handler goes on, its finished steps skipped. It rejects with `SleepInterrupt` (let it
   * propagate).
   *
   * ```ts
   * await ctx.step('send-reminder', () => mailer.remind(payload.userId))
   * await ctx.sleep('3d')
   * await ctx.step('send-final-notice', () => mailer.finalNotice(payload.userId))
   * ```
   */
  sleep(duration: number | string): Promise<void>
  /**
   * Runs `fn` in a database transaction that also completes the job: the handler's own writes
   * (made with `tx`, a `pg` client inside `BEGIN`) and the job's success commit together, or not at
   * all. The job's result is what `fn` returns; return the same value from the handler. The commit
   * is fenced by the lease: if this worker no longer holds the job, everything is rolled back and it
   * rejects with `JobTransactionError` (`reason: 'lease-lost'`). If `fn` throws, everything is
   * rolled back and the error propagates (the job is retried as usual). One transaction per
   * attempt; inline isolation only. It holds one connection of the worker's pool while `fn` runs.
   * See docs/workers.md, "Transactional completion".
   *
   * ```ts
   * return ctx.transaction(async (tx) => {
   *   await tx.query('UPDATE orders SET paid = true WHERE id = $1', [payload.orderId])
   *   await pgq.enqueue(sendReceipt, { orderId: payload.orderId }, { db: tx })
   *   return { paid: payload.orderId }
   * })
   * ```
   */
  transaction<T>(fn: (tx: pg.PoolClient) => Promise<T> | T): Promise<T>
}

/** The function that does a task's work. Its return value (JSON) is stored as the job's result. */
export type TaskHandler<P, R> = (payload: P, context: TaskContext) => Promise<R> | R

/**
 * How a task is defined; see {@link defineTask}. `isolation`, `module` and `maxMemoryMb` choose
 * where the handler runs (see docs/workers.md, "Where handlers run").
 */
export interface TaskOptions<P, R> extends TaskIsolationOptions {
  /** Unique task name: 1-128 characters of A-Z a-z 0-9 _ . : - */
  readonly name: string
  readonly handler: TaskHandler<P, R>
  /** Default queue of this task's jobs (default `default`). */
  readonly queue?: string
  /** Default priority: higher runs first (default 0, range -32768..32767). */
  readonly priority?: number
  /** Runs before the job fails for good (default 5). */
  readonly maxAttempts?: number
  /**
   * Soft time limit per attempt, in ms: the handler's signal is aborted. After `hardTimeoutGraceMs`
   * more, the attempt is failed and its slot freed even if the handler ignores the signal.
   * Default: none.
   */
  readonly timeoutMs?: number
  /** Grace after the soft limit before the hard limit (default 5,000 ms). */
  readonly hardTimeoutGraceMs?: number
  /** Backoff between attempts and which errors retry (default: exponential with jitter). */
  readonly retry?: RetryPolicyOptions
  /**
   * Validation of the payload: a function that returns the payload (possibly transformed) or
   * throws — zod's `schema.parse` fits — or a Standard Schema object (anything with
   * `'~standard'.validate`: zod, valibot, arktype). It runs at TypeScript enqueue (a failure throws
   * `PgqValidationError` before any SQL; it must be synchronous there, and the payload is stored as
   * given, not as transformed) and again before the handler (a failure fails the job for good, no
   * retry).
   */
  readonly parsePayload?: PayloadValidator<P>
  /**
   * The payload's schema, from any Standard Schema library (zod, valibot, arktype): the handler's
   * payload type is the schema's output and `enqueue`'s payload type its input. It runs at
   * TypeScript enqueue, before any SQL (a failure throws `PgqValidationError`, nothing is written;
   * it must validate synchronously there; the payload is stored as given), and again before the
   * handler, whose payload is the schema's output (a failure fails the job at once, no retry).
   * Use `schema` or `parsePayload`, not both. See docs/enqueue.md, "Schema-validated payloads".
   */
  readonly schema?: StandardSchemaV1<unknown, P>
  /**
   * The result's schema (Standard Schema): the handler's return value is validated and the job's
   * result is the schema's output; a result it rejects fails the job at once, without retry.
   */
  readonly resultSchema?: StandardSchemaV1<unknown, R>
  /**
   * The payload's JSON Schema, for people and tools: workers store it in the task registry
   * (`pgq.tasks.payload_schema`). pgq does not enforce it; `parsePayload` does the checking.
   */
  readonly payloadSchema?: { readonly [key: string]: JsonValue }
  /**
   * Delete a job as soon as it succeeds instead of keeping its result for the retention period: the
   * statement that records the success deletes the row (workflow nodes are kept for their dependants
   * and left to the pruner). Waiting on such a job rejects with `JobNotFoundError`.
   */
  readonly deleteOnSuccess?: boolean
  /**
   * Dead-letter queue: a job of this task that fails for good is moved to this queue (still in
   * state `failed`, with its errors), where it waits to be inspected and redriven with
   * `pgq.jobs.retry({ queue }, { queue: original })`. Default: it stays in its queue.
   */
  readonly deadLetterQueue?: string
  /**
   * Where each job's concurrency key comes from when enqueue gives none: a payload field path
   * (`'customerId'`; SQL enqueue applies it too) or a function of the payload (TypeScript enqueue
   * only). Limits per key are set on the queue: `pgq.queues.set(queue, { keyConcurrency: 1 })`.
   */
  readonly concurrencyKey?: ConcurrencyKeySource<P>
  /** Default deadline of this task's jobs: they must start within this many ms of becoming due. */
  readonly expireInMs?: number
}

/** A task, frozen and validated. Pass it to `pgq.enqueue()` and to workers. */
export interface TaskDefinition<P = unknown, R = unknown> extends Readonly<TaskOptions<P, R>> {
  readonly queue: string
  readonly retryPolicy: RetryPolicy
  /** Type-level marker of the payload; never set at run time. */
  readonly __payload?: P
  readonly __result?: R
}

/** Any task definition, whatever its payload and result types. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds tasks of every payload type
export type AnyTaskDefinition = TaskDefinition<any, any>

const KNOWN = optionKeys<TaskOptions<unknown, unknown>>({
  name: true,
  handler: true,
  queue: true,
  priority: true,
  maxAttempts: true,
  timeoutMs: true,
  hardTimeoutGraceMs: true,
  retry: true,
  parsePayload: true,
  schema: true,
  resultSchema: true,
  payloadSchema: true,
  deleteOnSuccess: true,
  deadLetterQueue: true,
  concurrencyKey: true,
  expireInMs: true,
  isolation: true,
  module: true,
  maxMemoryMb: true,
})

/**
 * The options of a task declared with schemas: the types come from them (see {@link defineTask}).
 *
 * ```ts
 * const options: SchemaTaskOptions<{ n: number }, number> = { name: 'square', handler: (p) => p.n * p.n }
 * ```
 */
export type SchemaTaskOptions<P, R> = Omit<TaskOptions<P, R>, 'schema' | 'resultSchema' | 'parsePayload'>

/**
 * Defines a task: its name, handler and defaults. The payload type flows to `enqueue` and to the
 * handler.
 *
 * ```ts
 * export const sendEmail = defineTask({
 *   name: 'send_email',
 *   queue: 'emails',
 *   maxAttempts: 3,
 *   async handler(payload: { to: string }, ctx) {
 *     await mailer.send(payload.to, { signal: ctx.signal })
 *     return { sent: true }
 *   },
 * })
 * ```
 *
 * With a Standard Schema (zod, valibot, arktype), the types come from the schema:
 *
 * ```ts
 * export const chargeOrder = defineTask({
 *   name: 'charge_order',
 *   schema: z.object({ orderId: z.string(), cents: z.number().int().positive() }),
 *   async handler(payload, ctx) {
 *     return payments.charge(payload.orderId, payload.cents) // payload: { orderId: string; cents: number }
 *   },
 * })
 * ```
 */
export function defineTask<S extends StandardSchemaV1, RS extends StandardSchemaV1>(
  options: SchemaTaskOptions<InferSchemaOutput<S>, InferSchemaInput<RS>> & {
    readonly schema: S
    readonly resultSchema: RS
  },
): TaskDefinition<InferSchemaInput<S>, InferSchemaOutput<RS>>
export function defineTask<S extends StandardSchemaV1, R>(
  options: SchemaTaskOptions<InferSchemaOutput<S>, R> & {
    readonly schema: S
    readonly resultSchema?: undefined
  },
): TaskDefinition<InferSchemaInput<S>, R>
export function defineTask<P, RS extends StandardSchemaV1>(
  options: Omit<TaskOptions<P, InferSchemaInput<RS>>, 'resultSchema'> & {
    readonly schema?: undefined
    readonly resultSchema: RS
  },
): TaskDefinition<P, InferSchemaOutput<RS>>
export function defineTask<P, R>(options: TaskOptions<P, R>): TaskDefinition<P, R>
// biome-ignore lint/suspicious/noExplicitAny: the overloads above type it
export function defineTask(options: TaskOptions<any, any>): AnyTaskDefinition {
  assertOptions(options, KNOWN, 'task.')
  assertName(options.name, 'task.name')
  if (typeof options.handler !== 'function')
    throw new PgqValidationError('task.handler', 'must be a function')
  const queue = assertName(options.queue ?? 'default', 'task.queue')
  if (options.priority !== undefined) assertInt(options.priority, 'task.priority', -32768, 32767)
  if (options.maxAttempts !== undefined) assertInt(options.maxAttempts, 'task.maxAttempts', 1, 1000)
  if (options.timeoutMs !== undefined) assertInt(options.timeoutMs, 'task.timeoutMs', 1, MAX_TIMER_MS)
  if (options.hardTimeoutGraceMs !== undefined) {
    assertInt(options.hardTimeoutGraceMs, 'task.hardTimeoutGraceMs', 0, MAX_TIMER_MS)
  }
  if (options.deadLetterQueue !== undefined) assertName(options.deadLetterQueue, 'task.deadLetterQueue')
  if (options.concurrencyKey !== undefined) assertKeySource(options.concurrencyKey, 'task.concurrencyKey')
  if (options.expireInMs !== undefined) assertInt(options.expireInMs, 'task.expireInMs', 1, 2 ** 31 - 1)
  if (options.parsePayload !== undefined) assertPayloadValidator(options.parsePayload, 'task.parsePayload')
  if (options.schema !== undefined) {
    assertStandardSchema(options.schema, 'task.schema')
    if (options.parsePayload !== undefined)
      throw new PgqValidationError('task.schema', 'use schema or parsePayload, not both')
  }
  if (options.resultSchema !== undefined) assertStandardSchema(options.resultSchema, 'task.resultSchema')
  if (
    options.payloadSchema !== undefined &&
    (options.payloadSchema === null ||
      typeof options.payloadSchema !== 'object' ||
      Array.isArray(options.payloadSchema))
  ) {
    throw new PgqValidationError('task.payloadSchema', 'must be a JSON Schema object', options.payloadSchema)
  }
  validateTaskIsolation(options)
  const retryPolicy = resolveRetryPolicy(options.retry, 'task.retry')
  return Object.freeze({ ...options, queue, retryPolicy })
}
