import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { type LimitedClaim, selectLimitedQueues } from '../sql/queue-queries.js'
import type { ClaimedJob } from '../sql/worker-queries.js'

/** @internal What a claim statement needs (the plain claim and `claim_limited()` alike). */
export interface ClaimParams {
  queue: string
  limit: number
  workerId: string
  leaseMs: number
  tasks: string[]
}

/** @internal Options of {@link QueueLimits}. */
export interface QueueLimitsOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  /** The worker's queues. */
  readonly queues: readonly string[]
  readonly workerId: string
  readonly leaseMs: number
  /** The tasks this worker can run. */
  readonly tasks: readonly string[]
  /** The plain claim statement (prepared or not, as the worker runs it), for unlimited queues. */
  readonly plain: (params: ClaimParams) => Promise<ClaimedJob[]>
  /** `claim_limited()` (prepared or not, as the worker runs it), for the others. */
  readonly limited: (params: ClaimParams) => Promise<LimitedClaim>
  /** How often the settings are re-read when no notification came (a notification may be lost). */
  readonly refreshMs: number
  /** The settings of `queue` were re-read: claim now (a resume, a raised limit). */
  readonly onChanged: (queue: string) => void
  /** The rate limit of `queue` allows the next claim at `epochMs`: claim then. */
  readonly onRetryAt: (queue: string, epochMs: number) => void
  readonly onError: (component: string, error: unknown) => void
}

/**
 * @internal Which of the worker's queues have limits (a `<schema>.queues` row that pauses or limits
 * them), and the claim each queue takes: the plain claim statement for unlimited queues (the hot
 * path, unchanged), `claim_limited()` for the others. The set is read at start, on every
 * `<queue>!` notification, after a reconnect and every `refreshMs`. A stale set never breaks a
 * limit: the plain claim takes nothing from a queue whose row limits it, and `claim_limited()`
 * applies whatever the row says now.
 *
 * ```ts
 * const plain = (params: ClaimParams) => claimJobs(pool, names, params)
 * const limited = (params: ClaimParams) => claimLimitedJobs(pool, names, params)
 * const limits = new QueueLimits({ pool, names, queues: ['video'], workerId, leaseMs, tasks, refreshMs: 10_000, plain, limited, onChanged, onRetryAt, onError })
 * await limits.refresh()
 * const jobs = await limits.claim('video', 5)
 * ```
 */
export class QueueLimits {
  readonly #options: QueueLimitsOptions
  #limited = new Set<string>()
  /** Per rate-limited queue: no token before this time (epoch ms), so no claim is tried before it. */
  readonly #blockedUntil = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined

  constructor(options: QueueLimitsOptions) {
    this.#options = Object.freeze({ ...options, queues: Object.freeze([...options.queues]) })
  }

  /** Whether claims of `queue` go through `claim_limited()`. */
  isLimited(queue: string): boolean {
    return this.#limited.has(queue)
  }

  /**
   * Claims up to `limit` jobs of `queue` with the statement its settings call for. When the rate
   * limit held a claim back, claims nothing (without asking the database) until the next token is
   * due, and has the fetcher woken then.
   */
  async claim(queue: string, limit: number): Promise<ClaimedJob[]> {
    const { workerId, leaseMs, tasks } = this.#options
    const params = { queue, limit, workerId, leaseMs, tasks: [...tasks] }
    if (!this.#limited.has(queue)) return this.#options.plain(params)
    const blockedUntil = this.#blockedUntil.get(queue)
    if (blockedUntil !== undefined && Date.now() < blockedUntil) {
      this.#options.onRetryAt(queue, blockedUntil)
      return []
    }
    const { jobs, retryInMs, retryScope } = await this.#options.limited(params)
    if (retryInMs === undefined) {
      this.#blockedUntil.delete(queue)
    } else {
      const at = Date.now() + Math.ceil(retryInMs)
      // a key's rate holds back that key only: wake then, but keep claiming the others meanwhile
      if (retryScope === 'key') this.#blockedUntil.delete(queue)
      else this.#blockedUntil.set(queue, at)
      this.#options.onRetryAt(queue, at)
    }
    return jobs
  }

  /**
   * A job of `queue` left `running` in the database (its outcome was written): on a queue with a
   * global limit that frees a slot, which this worker's fetcher claims at once. (The fetcher's own
   * wake when the handler ends comes before the write, when the slot is not free yet.)
   */
  slotWritten(queue: string): void {
    if (this.#limited.has(queue)) this.#options.onChanged(queue)
  }

  /** Re-reads the settings of `queues` (default: all of the worker's); throws when the read fails. */
  async refresh(queues: readonly string[] = this.#options.queues): Promise<void> {
    const { pool, names } = this.#options
    const limited = await selectLimitedQueues(pool, names, queues)
    const next = new Set(this.#limited)
    for (const queue of queues) {
      this.#blockedUntil.delete(queue) // a changed rate: ask the database again
      if (limited.has(queue)) next.add(queue)
      else next.delete(queue)
    }
    this.#limited = next
  }

  /**
   * A `<queue>!` notification (or, without `queue`, a reconnect): re-read the settings, then let
   * the fetchers claim.
   */
  changed(queue?: string): void {
    if (queue !== undefined && !this.#options.queues.includes(queue)) return
    const queues = queue === undefined ? this.#options.queues : [queue]
    this.refresh(queues)
      .catch((error) => this.#options.onError('queue-limits', error))
      .finally(() => {
        for (const q of queues) this.#options.onChanged(q)
      })
  }

  /** Re-reads every queue's settings every `refreshMs` (missed notifications). */
  start(): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((error) => this.#options.onError('queue-limits', error))
    }, this.#options.refreshMs)
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}
