import type pg from 'pg'
import { assertName, assertSchemaName } from '../db/identifiers.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import {
  listQueueStatus,
  type QueueSettingsWrite,
  type QueueStatusRow,
  setQueuePaused,
  writeQueueSettings,
} from '../sql/queue-queries.js'
import { assertInt, assertOptions, optionKeys } from '../util/validate.js'

/** Options of {@link Queues}. */
export interface QueuesOptions {
  readonly pool: pg.Pool
  /** Default `pgq`. */
  readonly schema?: string
}

/**
 * The limits {@link Queues.set} writes. A key left out keeps its value; `null` removes the limit.
 *
 * ```ts
 * const limits: QueueLimitsInput = { concurrency: 5 }
 * ```
 */
export interface QueueLimitsInput {
  /** Most jobs of the queue running at once across every worker (1 … 1,000,000); `null`: no limit. */
  readonly concurrency?: number | null
  /**
   * Most jobs of the queue started per interval across every worker, as `<n>/<interval>`: `10/m`,
   * `100/s`, `5/10s`, `1000/h` (units `ms`, `s`, `m`, `h`, `d`); `null`: no rate limit. A token
   * bucket of `n` tokens refilled continuously: at most `n` at once after a quiet spell.
   */
  readonly rate?: string | null
  /**
   * Most running jobs per concurrency key (a job's `concurrencyKey`, e.g. a customer id), across
   * every worker (1 … 1,000,000); `null`: no per-key limit. Keys take turns (round-robin), so a key
   * with a large backlog does not hold the others back.
   */
  readonly keyConcurrency?: number | null
  /**
   * With `keyConcurrency: 1`: each key's jobs start in enqueue order, one at a time. A job waiting
   * for its retry holds its key's turn; a job that ends for good (failed, cancelled, expired)
   * releases it. Priority does not reorder an ordered key.
   */
  readonly ordered?: boolean
  /**
   * Most jobs of one concurrency key started per interval, as `<n>/<interval>` like `rate` (a token
   * bucket per key: a burst of `n` after a quiet spell); `null`: none. Keys without a token wait
   * while other keys' jobs run.
   */
  readonly keyRate?: string | null
}

/**
 * A queue's flow-control settings and its load now (a row of `<schema>.queue_status`).
 *
 * ```ts
 * const info: QueueInfo | undefined = await pgq.queues.get('video')
 * if (info?.paused) console.log(`${info.waiting} jobs wait for a resume`)
 * ```
 */
export interface QueueInfo {
  readonly queue: string
  readonly paused: boolean
  /** Global concurrency limit, or null for none. */
  readonly concurrency: number | null
  /** Rate limit as `<n>/<interval>` (`50/s`), or null for none. */
  readonly rate: string | null
  /** Jobs of the queue running now (all workers). */
  readonly running: number
  /** Jobs due and waiting to be claimed. */
  readonly waiting: number
  /** Per-key concurrency limit, or null for none. */
  readonly keyConcurrency: number | null
  /** Each key's jobs start in enqueue order. */
  readonly ordered: boolean
  /** Rate limit per key as `<n>/<interval>`, or null for none. */
  readonly keyRate: string | null
}

const LIMIT_KEYS = optionKeys<QueueLimitsInput>({
  concurrency: true,
  rate: true,
  keyConcurrency: true,
  ordered: true,
  keyRate: true,
})
const RATE = /^(\d{1,7})\/(\d{1,8})?(ms|s|m|h|d)$/
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const RATE_RULE =
  'must be "<n>/<interval>" such as "10/m", "100/s" or "5/10s" (n from 1 to 1000000, interval from 1 ms to 1 d; null removes the limit)'
const MAX_CONCURRENCY = 1_000_000
const CONCURRENCY_RULE = `must be an integer from 1 to ${MAX_CONCURRENCY} (null removes the limit)`
const ORDERED_RULE = 'needs keyConcurrency 1 (one job per key at a time, in enqueue order)'

/**
 * Flow control at runtime (rows of `<schema>.queues`, see docs/flow-control.md): pause and resume a
 * queue, limit how many of its jobs run at once across all workers and how many start per interval. Every change reaches the
 * workers at once (a notification); limits are enforced by the claim itself, so no number of
 * workers can exceed them. Bad values throw {@link PgqValidationError} before anything is written.
 *
 * ```ts
 * await pgq.queues.set('video', { concurrency: 5 })
 * await pgq.queues.set('crm', { rate: '10/s' })
 * await pgq.queues.set('sync', { keyConcurrency: 1, ordered: true }) // per customer, in order
 * await pgq.queues.pause('video') // running jobs finish; nothing new starts
 * await pgq.queues.resume('video') // workers claim again at once
 * ```
 */
export class Queues {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames

  constructor(options: QueuesOptions) {
    this.#pool = options.pool
    this.#names = schemaNames(assertSchemaName(options.schema ?? 'pgq'))
  }

  /** Stops claiming jobs of the queue (running jobs finish). `await pgq.queues.pause('video')` */
  async pause(queue: string): Promise<void> {
    await setQueuePaused(this.#pool, this.#names, assertName(queue, 'queue'), true)
  }

  /** Claims the queue's jobs again; workers are woken at once. `await pgq.queues.resume('video')` */
  async resume(queue: string): Promise<void> {
    await setQueuePaused(this.#pool, this.#names, assertName(queue, 'queue'), false)
  }

  /**
   * Sets (or, with `null`, removes) the queue's limits; keys left out keep their value. Returns
   * the queue's settings after the write.
   *
   * ```ts
   * await pgq.queues.set('video', { concurrency: 5 })
   * await pgq.queues.set('video', { concurrency: null }) // no global limit
   * ```
   */
  async set(queue: string, limits: QueueLimitsInput): Promise<QueueInfo> {
    const name = assertName(queue, 'queue')
    const write = validateLimits(limits)
    try {
      await writeQueueSettings(this.#pool, this.#names, name, write)
    } catch (error) {
      // the row may already say ordered or keyConcurrency: the table's check has the last word
      if ((error as { constraint?: string }).constraint === 'queues_ordered_check') {
        throw new PgqValidationError('limits.ordered', ORDERED_RULE, limits.ordered)
      }
      throw error
    }
    return (await this.get(name))!
  }

  /** Every queue with settings or live jobs, by name. `await pgq.queues.list()` */
  async list(): Promise<QueueInfo[]> {
    return (await listQueueStatus(this.#pool, this.#names)).map(toInfo)
  }

  /** One queue's settings and load, or undefined when it has neither. `await pgq.queues.get('video')` */
  async get(queue: string): Promise<QueueInfo | undefined> {
    const name = assertName(queue, 'queue')
    return (await this.list()).find((q) => q.queue === name)
  }
}

/** Checks a {@link QueueLimitsInput}; throws {@link PgqValidationError} naming the bad value. */
export function validateLimits(limits: QueueLimitsInput): QueueSettingsWrite {
  assertOptions(limits, LIMIT_KEYS, 'limits.', 'limit')
  const write: QueueSettingsWrite = {}
  const { concurrency } = limits
  if (concurrency !== undefined) {
    write.concurrency =
      concurrency === null
        ? null
        : assertInt(concurrency, 'limits.concurrency', 1, MAX_CONCURRENCY, CONCURRENCY_RULE)
  }
  if (limits.rate !== undefined) write.rate = limits.rate === null ? null : parseRate(limits.rate)
  if (limits.keyRate !== undefined) {
    write.keyRate = limits.keyRate === null ? null : parseRate(limits.keyRate, 'limits.keyRate')
  }
  const { keyConcurrency, ordered } = limits
  if (keyConcurrency !== undefined) {
    write.keyConcurrency =
      keyConcurrency === null
        ? null
        : assertInt(keyConcurrency, 'limits.keyConcurrency', 1, MAX_CONCURRENCY, CONCURRENCY_RULE)
  }
  if (ordered !== undefined) {
    if (typeof ordered !== 'boolean')
      throw new PgqValidationError('limits.ordered', 'must be a boolean', ordered)
    if (ordered && keyConcurrency !== undefined && keyConcurrency !== 1) {
      throw new PgqValidationError('limits.ordered', ORDERED_RULE, ordered)
    }
    write.ordered = ordered
  }
  return write
}

/**
 * Reads a rate such as `10/m` or `5/10s` into jobs per interval; throws {@link PgqValidationError}.
 *
 * ```ts
 * parseRate('10/m') // { limit: 10, intervalMs: 60_000 }
 * ```
 */
export function parseRate(rate: unknown, path = 'limits.rate'): { limit: number; intervalMs: number } {
  const match = typeof rate === 'string' ? RATE.exec(rate) : null
  const limit = Number(match?.[1])
  const intervalMs = Number(match?.[2] ?? 1) * UNIT_MS[(match?.[3] ?? 's') as keyof typeof UNIT_MS]
  if (!match || limit < 1 || limit > MAX_CONCURRENCY || intervalMs < 1 || intervalMs > UNIT_MS.d) {
    throw new PgqValidationError(path, RATE_RULE, rate)
  }
  return { limit, intervalMs }
}

/** Writes a rate back as `<n>/<interval>` in the largest unit that divides the interval. */
function formatRate(limit: number, intervalMs: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const n = intervalMs / UNIT_MS[unit]
    if (Number.isInteger(n)) return `${limit}/${n === 1 ? '' : n}${unit}`
  }
  return `${limit}/${intervalMs}ms`
}

function toInfo(row: QueueStatusRow): QueueInfo {
  return {
    queue: row.queue,
    paused: row.paused,
    concurrency: row.concurrency,
    rate:
      row.rate_limit === null || row.rate_interval_ms === null
        ? null
        : formatRate(row.rate_limit, row.rate_interval_ms),
    running: Number(row.running),
    waiting: Number(row.waiting),
    keyConcurrency: row.key_concurrency,
    ordered: row.ordered,
    keyRate:
      row.key_rate_limit === null || row.key_rate_interval_ms === null
        ? null
        : formatRate(row.key_rate_limit, row.key_rate_interval_ms),
  }
}
