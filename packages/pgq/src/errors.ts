/**
 * Every error pgq throws on purpose is a `PgqError`, with a stable `code` and a `context` object
 * that names the values involved. Catch the subclass you care about:
 *
 * ```ts
 * try {
 *   await pgq.enqueue(sendEmail, payload)
 * } catch (error) {
 *   if (error instanceof PgqValidationError) console.error(error.path, error.rule)
 * }
 * ```
 */
export class PgqError extends Error {
  readonly code: string
  readonly context: Readonly<Record<string, unknown>>

  constructor(code: string, message: string, context: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.context = Object.freeze({ ...context })
  }
}

/**
 * Bad input: a payload JSON cannot carry faithfully, an unknown option, an invalid name or number.
 * Thrown before any SQL runs, so nothing is written.
 *
 * `path` names where the bad value is (`payload.user.born`, `options.priority`, `schema`);
 * `rule` says what was expected.
 */
export class PgqValidationError extends PgqError {
  readonly path: string
  readonly rule: string

  constructor(path: string, rule: string, value?: unknown) {
    super('PGQ_INVALID_INPUT', `${path}: ${rule}`, { path, rule, value: describeValue(value) })
    this.path = path
    this.rule = rule
  }
}

/** The database schema is missing, older or newer than this version of pgq expects. */
export class PgqSchemaVersionError extends PgqError {
  constructor(schema: string, applied: number, expected: number) {
    const advice =
      applied < expected
        ? `run \`pgq migrate --schema ${schema}\``
        : 'upgrade pgq: the database was migrated by a newer version'
    super(
      'PGQ_SCHEMA_VERSION',
      `schema "${schema}" is at migration ${applied}, this pgq expects ${expected}: ${advice}`,
      { schema, applied, expected },
    )
  }
}

/** A migration failed; nothing of that migration (or the ones after it in the same run) was kept. */
export class PgqMigrationError extends PgqError {
  constructor(version: number, name: string, cause: unknown) {
    super(
      'PGQ_MIGRATION_FAILED',
      `migration ${version} (${name}) failed: ${(cause as Error)?.message ?? String(cause)}`,
      { version, name },
      { cause },
    )
  }
}

/** Short, payload-free description of a value for error context (never the value itself when large). */
function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'string')
    return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return 'function'
  if (typeof value === 'symbol') return 'symbol'
  if (value === null || typeof value !== 'object') return String(value)
  return Object.prototype.toString.call(value)
}

/**
 * One failed attempt as stored in a job's error history (see `Job.errors`).
 *
 * ```ts
 * const lines = error.errors.map((e: JobErrorRecord) => `#${e.attempt} ${e.message}`)
 * ```
 */
export interface JobErrorRecord {
  readonly attempt: number
  /** When the attempt ended with this error (ISO 8601, the database's clock). */
  readonly at: string
  /** When the attempt started, and the id of the worker that ran it (`pgq.workers`); absent on errors written before pgq 0.1's worker history. */
  readonly startedAt?: string | null
  readonly worker?: string | null
  readonly message: string
  readonly stack?: string | null
}

/**
 * The awaited job failed for good. `errors` is its whole error history, oldest first.
 *
 * ```ts
 * try {
 *   await pgq.jobs.waitFor(job.id, { timeoutMs: 30_000 })
 * } catch (error) {
 *   if (error instanceof JobFailedError) console.error(error.jobId, error.errors.at(-1)?.message)
 * }
 * ```
 */
export class JobFailedError extends PgqError {
  readonly jobId: string
  readonly task: string
  readonly errors: readonly JobErrorRecord[]

  constructor(jobId: string, task: string, errors: readonly JobErrorRecord[]) {
    const last = errors.at(-1)
    super(
      'PGQ_JOB_FAILED',
      `job ${jobId} (${task}) failed: ${last?.message ?? 'no error recorded'} (${errors.length} error(s) recorded)`,
      { jobId, task, errorCount: errors.length },
    )
    this.jobId = jobId
    this.task = task
    this.errors = Object.freeze([...errors])
  }
}

/**
 * The awaited job was cancelled (before it ran, or while running).
 *
 * ```ts
 * await pgq.jobs.waitFor(id).catch((e) => e instanceof JobCancelledError ? null : Promise.reject(e))
 * ```
 */
export class JobCancelledError extends PgqError {
  readonly jobId: string
  readonly task: string

  constructor(jobId: string, task: string) {
    super('PGQ_JOB_CANCELLED', `job ${jobId} (${task}) was cancelled`, { jobId, task })
    this.jobId = jobId
    this.task = task
  }
}

/**
 * The awaited job reached its deadline (`expires_at`) before any worker started it, and ended
 * `expired` without running (docs/flow-control.md).
 *
 * ```ts
 * await pgq.jobs.waitFor(id).catch((e) => e instanceof JobExpiredError ? 'too late' : Promise.reject(e))
 * ```
 */
export class JobExpiredError extends PgqError {
  readonly jobId: string
  readonly task: string

  constructor(jobId: string, task: string) {
    super('PGQ_JOB_EXPIRED', `job ${jobId} (${task}) expired: it was not started by its deadline`, {
      jobId,
      task,
    })
    this.jobId = jobId
    this.task = task
  }
}

/**
 * The job did not finish within the wait's `timeoutMs`. The job itself is untouched: it may still
 * finish later (wait again, or cancel it).
 *
 * ```ts
 * await pgq.jobs.waitFor(id, { timeoutMs: 5_000 }).catch((e) => {
 *   if (e instanceof JobTimeoutError) return pgq.jobs.cancel(id)
 *   throw e
 * })
 * ```
 */
export class JobTimeoutError extends PgqError {
  readonly jobId: string
  readonly timeoutMs: number
  /** The job's state when the wait gave up (`undefined` if it was never read). */
  readonly state: string | undefined

  constructor(jobId: string, timeoutMs: number, state: string | undefined) {
    super(
      'PGQ_JOB_TIMEOUT',
      `job ${jobId} did not finish within ${timeoutMs} ms (state: ${state ?? 'unknown'})`,
      { jobId, timeoutMs, state },
    )
    this.jobId = jobId
    this.timeoutMs = timeoutMs
    this.state = state
  }
}

/**
 * No job with this id exists: it was never committed, or it was deleted (pruned after its
 * retention, deleted by an admin, or deleted on success by a `deleteOnSuccess` task).
 *
 * ```ts
 * await pgq.jobs.waitFor('999999').catch((e) => e instanceof JobNotFoundError)
 * ```
 */
export class JobNotFoundError extends PgqError {
  readonly jobId: string

  constructor(jobId: string) {
    super('PGQ_JOB_NOT_FOUND', `job ${jobId} does not exist (never committed, or deleted)`, { jobId })
    this.jobId = jobId
  }
}

/**
 * `pgq.jobs.retry(id)` of a workflow node that cannot run again on its own: its workflow was
 * cancelled (`reason: 'workflow_cancelled'`; cancelling a workflow is final), or a parent that
 * failed keeps it from running (`reason: 'parent_failed'`; retry that parent: this node comes
 * back with it). Retries that target more than one job skip such nodes instead.
 *
 * ```ts
 * await pgq.jobs.retry(nodeId).catch((e) => {
 *   if (e instanceof WorkflowRetryRefusedError) console.warn(e.reason, e.workflowId)
 *   else throw e
 * })
 * ```
 */
export class WorkflowRetryRefusedError extends PgqError {
  readonly jobId: string
  readonly workflowId: string
  readonly reason: 'workflow_cancelled' | 'parent_failed'

  constructor(jobId: string, workflowId: string, reason: 'workflow_cancelled' | 'parent_failed') {
    super(
      'PGQ_WORKFLOW_RETRY_REFUSED',
      reason === 'workflow_cancelled'
        ? `job ${jobId} is a node of workflow ${workflowId}, which was cancelled: its nodes are not retried`
        : `job ${jobId} waits on a parent in workflow ${workflowId} that failed: retry that parent, this node resumes with it`,
      { jobId, workflowId, reason },
    )
    this.jobId = jobId
    this.workflowId = workflowId
    this.reason = reason
  }
}
/**
 * `ctx.transaction()` could not commit the handler's writes with the job's completion, and rolled
 * them back (nothing of the transaction was kept). `reason`:
 * - `lease-lost`: the worker no longer holds the job (its lease expired and it was rescued, or it
 *   was taken over); another run may be in progress. Let the error propagate.
 * - `already-completed`: the attempt already committed a transaction (one per attempt).
 * - `isolated`: the task runs in a thread or child process (`isolation`), which cannot share the
 *   worker's connection; use the default inline isolation for transactional tasks.
 *
 * ```ts
 * await ctx.transaction(async (tx) => { … }).catch((e) => {
 *   if (e instanceof JobTransactionError && e.reason === 'lease-lost') log.warn('rolled back', e.jobId)
 *   throw e
 * })
 * ```
 */
export class JobTransactionError extends PgqError {
  readonly jobId: string
  readonly reason: 'lease-lost' | 'already-completed' | 'isolated'

  constructor(jobId: string, attempt: number, reason: JobTransactionError['reason']) {
    const why = {
      'lease-lost': "the job's lease was lost (another worker may run it); the transaction was rolled back",
      'already-completed': 'this attempt already completed the job in a transaction (one per attempt)',
      isolated: 'ctx.transaction() needs isolation "inline" (the task runs in a thread or process)',
    }[reason]
    super('PGQ_JOB_TRANSACTION', `job ${jobId} attempt ${attempt}: ${why}`, { jobId, attempt, reason })
    this.jobId = jobId
    this.reason = reason
  }
}

/**
 * A @pgq/core/testing expectation did not hold (`expectEnqueued` found no matching job). `context` holds
 * the filter and the jobs of that task that were found instead.
 *
 * ```ts
 * await queue.expectEnqueued(sendEmail, { to: 'a@example.com' }).catch((e) => {
 *   if (e instanceof PgqExpectationError) console.log(e.context.found)
 *   throw e
 * })
 * ```
 */
export class PgqExpectationError extends PgqError {
  constructor(message: string, context: Record<string, unknown>) {
    super('PGQ_EXPECTATION', message, context)
  }
}
