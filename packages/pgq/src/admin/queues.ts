import type pg from 'pg'
import { assertName, assertSchemaName } from '../db/identifiers.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import type { PgqValidationError } from '../errors.js'
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
  /** Jobs of the queue running now (all workers). */
  readonly running: number
  /** Jobs due and waiting to be claimed. */
  readonly waiting: number
}

const LIMIT_KEYS = optionKeys<QueueLimitsInput>({ concurrency: true })
const MAX_CONCURRENCY = 1_000_000
const CONCURRENCY_RULE = `must be an integer from 1 to ${MAX_CONCURRENCY} (null removes the limit)`

/**
 * Flow control at runtime (rows of `<schema>.queues`, see docs/flow-control.md): pause and resume a
 * queue, limit how many of its jobs run at once across all workers. Every change reaches the
 * workers at once (a notification); limits are enforced by the claim itself, so no number of
 * workers can exceed them. Bad values throw {@link PgqValidationError} before anything is written.
 *
 * ```ts
 * await pgq.queues.set('video', { concurrency: 5 })
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
    await writeQueueSettings(this.#pool, this.#names, name, write)
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
  return write
}

function toInfo(row: QueueStatusRow): QueueInfo {
  return {
    queue: row.queue,
    paused: row.paused,
    concurrency: row.concurrency,
    running: Number(row.running),
    waiting: Number(row.waiting),
  }
}
