import type pg from 'pg'
import { ResultWaiter, type WaitOptions } from '../client/result-waiter.js'
import type { Executor } from '../db/executor.js'
import { assertName } from '../db/identifiers.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { WorkflowRetryRefusedError } from '../errors.js'
import type { Notifier } from '../notify/notifier.js'
import { queueStats } from '../sql/admin-queries.js'
import { databaseNow } from '../sql/clock-queries.js'
import type { BatchResult } from '../sql/job-admin-queries.js'
import { workflowRetryRefusal } from '../sql/workflow-queries.js'
import { assertInt } from '../util/validate.js'
import {
  assertJobId,
  idFilter,
  type JobFilter,
  type JobId,
  type ResolvedFilter,
  resolveFilter,
  restrictStates,
} from './job-filter.js'
import { FINAL_STATES, type Job, type JobSummary, toJob, toJobSummary } from './job-record.js'
import { type JobStats, toJobStats } from './job-stats.js'

/** The statements built with Kysely, loaded on first use: a process that never lists or administers jobs skips Kysely. */
const adminQueries = () => import('../sql/job-admin-queries.js')

/**
 * Options of {@link Jobs}.
 *
 * ```ts
 * const jobs = new Jobs({ pool, schema: 'pgq', batchSize: 500, pollIntervalMs: 1_000 })
 * ```
 */
export interface JobsOptions {
  readonly pool: pg.Pool
  readonly schema: string
  /** Rows per statement (and per transaction) of cancel, retry and delete over a filter (default 1,000). */
  readonly batchSize?: number
  /** Retention of a waiting job cancelled here, in ms (default 7 days, as the worker's for cancelled jobs). */
  readonly cancelledRetentionMs?: number
  /** Fallback poll interval of `waitFor`, in ms (default 5,000; notifications wake it sooner). */
  readonly pollIntervalMs?: number
  /** The process's notifier, shared with its workers (the pgq client passes its own). */
  readonly notifier?: Notifier
}

/**
 * Where an admin statement runs: pgq's pool by default, or your connection or transaction.
 *
 * ```ts
 * await pgq.jobs.cancel(orderJobId, { db: trx }) // cancelled only if the transaction commits
 * ```
 */
export interface AdminOptions {
  readonly db?: Executor
}

/**
 * A page of {@link Jobs.list}: newest first; pass the last id as `beforeId` for the next page.
 *
 * ```ts
 * const next = await pgq.jobs.list({ queue: 'emails', limit: 100, beforeId: '4711' })
 * ```
 */
export interface JobListFilter extends JobFilter {
  /** Jobs per page (default 50, at most 1,000). */
  readonly limit?: number
  /** Only jobs with a smaller id (the cursor of the next page). */
  readonly beforeId?: JobId
}

/**
 * Options of {@link Jobs.retry}.
 *
 * ```ts
 * await pgq.jobs.retry({ queue: 'emails.dead' }, { queue: 'emails' })
 * ```
 */
export interface RetryOptions extends AdminOptions {
  /** Move the retried jobs to this queue (e.g. back from a dead-letter queue). */
  readonly queue?: string
}

const DAY_MS = 24 * 60 * 60 * 1000
const RETRYABLE_CODES = new Set(['40P01', '40001'])

/**
 * Reads and administers jobs: get one, list, cancel, retry, delete, stats, and await a job's result
 * from any process. Exposed as `pgq.jobs`.
 *
 * ```ts
 * const jobs = new Jobs({ pool, schema: 'pgq' })
 * const job = await jobs.get('42')
 * await jobs.retry({ task: 'send_email', state: 'failed' })
 * const result = await jobs.waitFor('43', { timeoutMs: 30_000 })
 * await jobs.close()
 * ```
 */
export class Jobs {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #batchSize: number
  readonly #cancelledRetentionMs: number
  readonly #waiter: ResultWaiter

  constructor(options: JobsOptions) {
    const {
      pool,
      schema,
      batchSize = 1_000,
      cancelledRetentionMs = 7 * DAY_MS,
      pollIntervalMs,
      notifier,
    } = options
    assertInt(batchSize, 'batchSize', 1, 100_000)
    assertInt(cancelledRetentionMs, 'cancelledRetentionMs', 0, Number.MAX_SAFE_INTEGER)
    this.#pool = pool
    this.#names = schemaNames(schema)
    this.#batchSize = batchSize
    this.#cancelledRetentionMs = cancelledRetentionMs
    this.#waiter = new ResultWaiter({
      pool,
      schema,
      ...(pollIntervalMs ? { pollIntervalMs } : {}),
      ...(notifier ? { notifier } : {}),
    })
  }

  /**
   * One job with its payload, result, progress and error history; `undefined` if there is none.
   *
   * ```ts
   * const job = await pgq.jobs.get(id)
   * console.log(job?.state, job?.progress, job?.result)
   * ```
   */
  async get(id: JobId, options: AdminOptions = {}): Promise<Job | undefined> {
    const queries = await adminQueries()
    const row = await queries.getJob(options.db ?? this.#pool, this.#names, assertJobId(id))
    return row && toJob(row)
  }

  /**
   * Jobs matching `filter`, newest first, without payloads or results.
   *
   * ```ts
   * const page = await pgq.jobs.list({ state: 'failed', task: 'send_email', limit: 20 })
   * const next = await pgq.jobs.list({ state: 'failed', limit: 20, beforeId: page.at(-1)?.id })
   * ```
   */
  async list(filter: JobListFilter = {}, options: AdminOptions = {}): Promise<JobSummary[]> {
    const resolved = resolveFilter(filter, 'filter', ['limit', 'beforeId'])
    const limit = assertInt(filter.limit ?? 50, 'filter.limit', 1, 1_000)
    const beforeId = filter.beforeId === undefined ? null : assertJobId(filter.beforeId, 'filter.beforeId')
    const queries = await adminQueries()
    const rows = await queries.listJobs(options.db ?? this.#pool, this.#names, resolved, limit, beforeId)
    return rows.map(toJobSummary)
  }

  /**
   * Cancels one job (by id) or every job matching a filter. A waiting job ends `cancelled` at once
   * and never runs; a running job is asked to stop: its worker aborts the handler's signal (within
   * about a second) and ends it `cancelled`, without retrying. Finished jobs are left as they are.
   *
   * ```ts
   * const { cancelled, cancelRequested } = await pgq.jobs.cancel(job.id)
   * await pgq.jobs.cancel({ queue: 'reports' }) // everything waiting or running in a queue
   * ```
   */
  async cancel(
    target: JobId | JobFilter,
    options: AdminOptions = {},
  ): Promise<{ cancelled: number; cancelRequested: number }> {
    const filter = restrictStates(this.#target(target), ['blocked', 'available', 'running'], 'cancel')
    const queries = await adminQueries()
    const counts = await this.#inBatches(filter, (after, limit) =>
      queries.cancelJobs(
        options.db ?? this.#pool,
        this.#names,
        filter,
        after,
        limit,
        this.#cancelledRetentionMs,
      ),
    )
    return { cancelled: counts.cancelled ?? 0, cancelRequested: counts.cancelRequested ?? 0 }
  }

  /**
   * Runs failed, cancelled or expired jobs again: they become `available` now, with attempts reset
   * and their error history kept. A retry also clears the job's deadline (`expires_at`): retrying is
   * the decision to run it, and an expired job keeping its past deadline would expire again at
   * once. A job whose dedup key is held by a live job is skipped.
   *
   * A workflow node resumes its graph: the dependants its failure cancelled go back to `blocked`
   * and run when it succeeds (docs/workflows.md). Retrying one node that cannot run on its own (its
   * workflow was cancelled, or a parent failed) throws `WorkflowRetryRefusedError`; a filter over
   * more than one job skips such nodes.
   *
   * ```ts
   * await pgq.jobs.retry('42')
   * await pgq.jobs.retry({ state: 'failed', task: 'send_email' })
   * await pgq.jobs.retry({ queue: 'dead' }, { queue: 'default' }) // redrive a dead-letter queue
   * ```
   */
  async retry(target: JobId | JobFilter, options: RetryOptions = {}): Promise<{ retried: number }> {
    const filter = restrictStates(this.#target(target), ['failed', 'cancelled', 'expired'], 'retry')
    const queue = options.queue === undefined ? null : assertName(options.queue, 'options.queue')
    const queries = await adminQueries()
    const counts = await this.#inBatches(filter, (after, limit) =>
      queries.retryJobs(options.db ?? this.#pool, this.#names, filter, after, limit, queue),
    )
    const retried = counts.retried ?? 0
    const only = filter.ids?.length === 1 ? filter.ids[0]! : undefined
    if (retried === 0 && only !== undefined) {
      const refusal = await workflowRetryRefusal(options.db ?? this.#pool, this.#names, only)
      if (refusal) throw new WorkflowRetryRefusedError(only, refusal.workflowId, refusal.reason)
    }
    return { retried }
  }

  /**
   * Deletes jobs. By default only finished ones (succeeded, failed, cancelled, expired); name
   * `state: 'available'` to delete waiting jobs too. Running jobs are never deleted (cancel them).
   *
   * ```ts
   * await pgq.jobs.delete({ state: 'failed', task: 'send_email' })
   * ```
   */
  async delete(target: JobId | JobFilter, options: AdminOptions = {}): Promise<{ deleted: number }> {
    const base = this.#target(target)
    const filter =
      base.states || typeof target !== 'object'
        ? restrictStates(base, ['available', ...FINAL_STATES], 'delete')
        : restrictStates(base, FINAL_STATES, 'delete')
    const queries = await adminQueries()
    const counts = await this.#inBatches(filter, (after, limit) =>
      queries.deleteJobs(options.db ?? this.#pool, this.#names, filter, after, limit),
    )
    return { deleted: counts.deleted ?? 0 }
  }

  /**
   * Per-queue counts by state, lag (age of the oldest due waiting job) and the jobs finished in the
   * last `windowMinutes` (default 5).
   *
   * ```ts
   * const { queues } = await pgq.jobs.stats()
   * for (const q of queues) console.log(q.queue, q.waiting, q.lagMs, q.throughputPerMinute)
   * ```
   */
  async stats(options: { readonly windowMinutes?: number } = {}): Promise<JobStats> {
    const windowMinutes = assertInt(options.windowMinutes ?? 5, 'windowMinutes', 1, 7 * 24 * 60)
    const rows = await queueStats(this.#pool, this.#names, windowMinutes)
    const at = rows[0]?.at ?? (await databaseNow(this.#pool))
    return toJobStats(rows, windowMinutes, at)
  }

  /**
   * Waits until the job finishes: resolves with its result, or rejects with `JobFailedError`
   * (carrying the error history), `JobCancelledError`, `JobExpiredError`, `JobNotFoundError` or `JobTimeoutError`.
   * Works from any process; woken by NOTIFY, with a slow poll as fallback.
   *
   * ```ts
   * const job = await pgq.enqueue(renderReport, { id })
   * const { url } = await pgq.jobs.waitFor<{ url: string }>(job.id, { timeoutMs: 60_000 })
   * ```
   */
  async waitFor<R = unknown>(id: JobId, options: WaitOptions = {}): Promise<R> {
    return (await this.#waiter.wait(id, options)) as R
  }

  /** Stops every `waitFor` in progress and ends its LISTEN subscription (the pool stays open). */
  async close(): Promise<void> {
    await this.#waiter.close()
  }

  #target(target: JobId | JobFilter): ResolvedFilter {
    return typeof target === 'object' && target !== null ? resolveFilter(target) : idFilter(target)
  }

  /** Runs `step` over id-ordered batches until one comes back short; each batch is its own statement. */
  async #inBatches(
    filter: ResolvedFilter,
    step: (afterId: string | null, limit: number) => Promise<BatchResult>,
  ): Promise<Record<string, number>> {
    const limit = filter.ids ? filter.ids.length : this.#batchSize
    const totals: Record<string, number> = {}
    let after: string | null = null
    for (;;) {
      const result = await withRetry(() => step(after, limit))
      for (const [key, n] of Object.entries(result.counts)) totals[key] = (totals[key] ?? 0) + n
      if (filter.ids || result.lastId === null) return totals
      after = result.lastId
    }
  }
}

/** Retries a statement that lost a deadlock or serialization race (it changed nothing). */
async function withRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      const code = (error as { code?: string }).code
      if (attempt >= 3 || !code || !RETRYABLE_CODES.has(code)) throw error
    }
  }
}
