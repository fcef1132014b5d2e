import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { statementName } from './statement-parts.js'
import { type ClaimedJob, type ClaimedJobRow, toClaimedJob } from './worker-queries.js'

/** @internal A row of `<schema>.queue_status`: a queue's flow-control settings and its load. */
export interface QueueStatusRow {
  queue: string
  paused: boolean
  concurrency: number | null
  rate_limit: number | null
  rate_interval_ms: number | null
  running: string
  waiting: string
  key_concurrency: number | null
  ordered: boolean
  key_rate_limit: number | null
  key_rate_interval_ms: number | null
}

/** @internal The settings a write changes; `undefined` leaves a setting as it is, `null` clears it. */
export interface QueueSettingsWrite {
  concurrency?: number | null
  /** Jobs per interval (a token bucket of that size), or null for no rate limit. */
  rate?: { limit: number; intervalMs: number } | null
  /** Most running jobs per concurrency key, or null for no per-key limit. */
  keyConcurrency?: number | null
  /** A key's jobs start in enqueue order (needs keyConcurrency 1). */
  ordered?: boolean
  /** Jobs per interval per key (a token bucket per key), or null for none. */
  keyRate?: { limit: number; intervalMs: number } | null
}

/** @internal What a limited claim returns: the jobs, and when the next rate-limit token is due. */
export interface LimitedClaim {
  readonly jobs: ClaimedJob[]
  /** Set when a rate limit held the claim back: claim again in this many ms. */
  readonly retryInMs?: number
  /**
   * Which limit: `queue` (nothing of the queue can start before then) or `key` (some keys wait for
   * their token; other keys' jobs may start before).
   */
  readonly retryScope?: 'queue' | 'key'
}

/**
 * @internal Claims up to `limit` due jobs of a queue that has limits, through `claim_limited()`
 * (migrations 0012, 0014): under the queue's row lock it claims nothing while the queue is paused,
 * no more than its global concurrency leaves free, no more than its rate limit's tokens, and per
 * concurrency key no more than the key's limit (round-robin over keys; in order when `ordered`). Same rows
 * as the plain claim, and when the rate limit held it back, when the next token is due.
 */
export async function claimLimitedJobs(
  db: Executor,
  names: SchemaNames,
  params: { queue: string; limit: number; workerId: string; leaseMs: number; tasks: string[] },
  prepared = false,
): Promise<LimitedClaim> {
  const result = await runQuery<
    ClaimedJobRow & { retry_in_ms: number | null; retry_scope: 'queue' | 'key' | null }
  >(
    db,
    `SELECT id::text AS id, task, queue, payload, attempts, max_attempts, lease_token::text AS lease_token,
            trace, wait_ms, steps, retry_in_ms, retry_scope
     FROM ${names.quoted}.claim_limited($1, $2, $3, $4, $5::text[])`,
    [params.queue, params.limit, params.workerId, params.leaseMs, params.tasks],
    // named, the call is not planned anew each time: 270-320 -> 195 us of PostgreSQL CPU per claim
    statementName(prepared, 'claim_limited', names),
  )
  const status = result.rows.find((row) => row.id === null)
  const jobs = result.rows.filter((row) => row.id !== null).map(toClaimedJob)
  return status?.retry_in_ms == null
    ? { jobs }
    : { jobs, retryInMs: status.retry_in_ms, retryScope: status.retry_scope ?? 'queue' }
}

/** @internal Which of `queues` have a row that limits something (paused, a global or per-key limit, a rate). */
export async function selectLimitedQueues(
  db: Executor,
  names: SchemaNames,
  queues: readonly string[],
): Promise<Set<string>> {
  const result = await runQuery<{ name: string }>(
    db,
    `SELECT name FROM ${names.queues} WHERE name = ANY($1::text[]) AND limited`,
    [queues],
  )
  return new Set(result.rows.map((row) => row.name))
}

/** @internal Pauses (true) or resumes (false) a queue, creating its row when missing. */
export async function setQueuePaused(db: Executor, names: SchemaNames, queue: string, paused: boolean) {
  await runQuery(db, `SELECT ${names.quoted}.${paused ? 'pause_queue' : 'resume_queue'}($1)`, [queue])
}

/**
 * @internal Writes a queue's limits (creating its row when missing). A new rate starts with a full
 * bucket.
 */
export async function writeQueueSettings(
  db: Executor,
  names: SchemaNames,
  queue: string,
  settings: QueueSettingsWrite,
): Promise<void> {
  await runQuery(
    db,
    `INSERT INTO ${names.queues} AS q (name, concurrency, rate_limit, rate_interval_ms, key_concurrency, ordered,
       key_rate_limit, key_rate_interval_ms)
     VALUES ($1, $3, $5, $6, $8, coalesce($10, false), $12, $13)
     ON CONFLICT (name) DO UPDATE
       SET concurrency = CASE WHEN $2 THEN $3 ELSE q.concurrency END,
           rate_limit = CASE WHEN $4 THEN $5 ELSE q.rate_limit END,
           rate_interval_ms = CASE WHEN $4 THEN $6 ELSE q.rate_interval_ms END,
           tokens = CASE WHEN $4 THEN NULL ELSE q.tokens END,
           key_concurrency = CASE WHEN $7 THEN $8 ELSE q.key_concurrency END,
           ordered = CASE WHEN $9 THEN $10 ELSE q.ordered END,
           key_rate_limit = CASE WHEN $11 THEN $12 ELSE q.key_rate_limit END,
           key_rate_interval_ms = CASE WHEN $11 THEN $13 ELSE q.key_rate_interval_ms END,
           updated_at = now()`,
    [
      queue,
      settings.concurrency !== undefined,
      settings.concurrency ?? null,
      settings.rate !== undefined,
      settings.rate?.limit ?? null,
      settings.rate?.intervalMs ?? null,
      settings.keyConcurrency !== undefined,
      settings.keyConcurrency ?? null,
      settings.ordered !== undefined,
      settings.ordered ?? null,
      settings.keyRate !== undefined,
      settings.keyRate?.limit ?? null,
      settings.keyRate?.intervalMs ?? null,
    ],
  )
}

/**
 * @internal Deletes up to `limit` per-key rate buckets that are full again (no claim for a whole
 * interval) or whose queue no longer has a per-key rate: a missing row means a full bucket.
 * Rows locked by a claim are skipped. Returns how many went.
 */
export async function pruneKeyBuckets(db: Executor, names: SchemaNames, limit: number): Promise<number> {
  const result = await runQuery(
    db,
    `DELETE FROM ${names.quoted}.queue_key_buckets AS b
     WHERE (b.queue, b.key) IN (
       SELECT x.queue, x.key FROM ${names.quoted}.queue_key_buckets AS x
       LEFT JOIN ${names.queues} AS q ON q.name = x.queue
       WHERE q.key_rate_interval_ms IS NULL
          OR x.tokens_at < now() - q.key_rate_interval_ms * interval '1 millisecond'
       LIMIT $1
       FOR UPDATE OF x SKIP LOCKED)`,
    [limit],
  )
  return result.rowCount
}

/** @internal Every queue with a settings row or live jobs, by name. */
export async function listQueueStatus(db: Executor, names: SchemaNames): Promise<QueueStatusRow[]> {
  const result = await runQuery<QueueStatusRow>(
    db,
    `SELECT queue, paused, concurrency, rate_limit, rate_interval_ms, running::text AS running, waiting::text AS waiting,
            key_concurrency, ordered, key_rate_limit, key_rate_interval_ms
     FROM ${names.queueStatus} ORDER BY queue`,
  )
  return result.rows
}
