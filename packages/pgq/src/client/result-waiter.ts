import type pg from 'pg'
import { assertJobId, type JobId } from '../admin/job-filter.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import {
  JobCancelledError,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  JobTimeoutError,
  PgqError,
  PgqValidationError,
} from '../errors.js'
import { listenUrlOf } from '../notify/listen-url.js'
import { parseJobEvent } from '../notify/messages.js'
import { Notifier, type Unsubscribe } from '../notify/notifier.js'
import { getJobOutcomes, type JobOutcomeRow } from '../sql/admin-queries.js'
import { assertInt, MAX_TIMER_MS } from '../util/validate.js'

/**
 * Options of {@link ResultWaiter}.
 *
 * ```ts
 * const waiter = new ResultWaiter({ pool, schema: 'pgq', pollIntervalMs: 1_000 })
 * ```
 */
export interface ResultWaiterOptions {
  readonly pool: pg.Pool
  readonly schema: string
  /**
   * The process's notifier (the pgq client passes its own, shared with its workers). Without one,
   * the waiter makes its own on the pool's connection settings and closes it in `close()`.
   */
  readonly notifier?: Notifier
  /** Fallback poll of every awaited job, in ms, for missed notifications (default 5,000). */
  readonly pollIntervalMs?: number
  /** How long the LISTEN connection stays open after the last waiter left, in ms (default 2,000). */
  readonly idleMs?: number
}

/**
 * Options of one wait.
 *
 * ```ts
 * await pgq.jobs.waitFor(id, { timeoutMs: 30_000, signal: request.signal, onProgress: (p) => send(p) })
 * ```
 */
export interface WaitOptions {
  /** Give up after this many ms with a {@link JobTimeoutError} (default: wait until the job finishes). */
  readonly timeoutMs?: number
  /** Stop waiting when aborted (rejects with `signal.reason`); the job itself is untouched. */
  readonly signal?: AbortSignal
  /** Called with the job's stored progress whenever it changes while waiting. */
  readonly onProgress?: (progress: unknown) => void
}

const MS_AT_LEAST_1 = 'must be an integer number of ms ≥ 1'

interface Waiter {
  readonly id: string
  readonly onProgress: ((progress: unknown) => void) | undefined
  lastState: string | undefined
  lastProgress: string | undefined
  settle(outcome: { value: unknown } | { error: unknown }): void
}

/**
 * Settles waits for jobs' final states, from any process: one subscription to the schema's
 * `<schema>:events` channel on the process's {@link Notifier} serves every waiter and wakes them on
 * `finished:<id>` (and `progress:<id>`); after the notifier reconnects every awaited job is
 * re-read, and a slow poll catches anything else. The subscription starts with the first waiter
 * and ends shortly after the last one.
 *
 * ```ts
 * const waiter = new ResultWaiter({ pool, schema: 'pgq' })
 * const result = await waiter.wait(job.id, { timeoutMs: 30_000 }) // or JobFailedError, JobCancelledError, JobExpiredError, JobTimeoutError
 * await waiter.close()
 * ```
 */
export class ResultWaiter {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #pollIntervalMs: number
  readonly #idleMs: number
  readonly #waiters = new Map<string, Set<Waiter>>()
  readonly #pending = new Set<string>()
  readonly #notifier: Notifier | undefined
  readonly #ownsNotifier: boolean
  #checking: Promise<void> | undefined
  #subscription: Promise<Unsubscribe | undefined> | undefined
  #offReconnect: (() => void) | undefined
  #pollTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: ResultWaiterOptions) {
    const { pool, schema, notifier, pollIntervalMs = 5_000, idleMs = 2_000 } = options
    if (typeof pool?.connect !== 'function') throw new PgqValidationError('pool', 'must be a pg.Pool', pool)
    if (notifier !== undefined && !(notifier instanceof Notifier)) {
      throw new PgqValidationError('notifier', 'must be a Notifier', notifier)
    }
    this.#pollIntervalMs = assertInt(pollIntervalMs, 'pollIntervalMs', 1, MAX_TIMER_MS, MS_AT_LEAST_1)
    this.#idleMs = assertInt(idleMs, 'idleMs', 1, MAX_TIMER_MS, MS_AT_LEAST_1)
    this.#pool = pool
    this.#names = schemaNames(schema)
    const url = notifier ? undefined : listenUrlOf(pool)
    this.#notifier = notifier ?? (url ? new Notifier({ connectionString: url }) : undefined)
    this.#ownsNotifier = !notifier && this.#notifier !== undefined
  }

  /** Number of waits in progress. */
  get size(): number {
    let n = 0
    for (const set of this.#waiters.values()) n += set.size
    return n
  }

  /**
   * Resolves with the job's result once it succeeded; rejects with {@link JobFailedError} (with its
   * error history), {@link JobCancelledError}, {@link JobExpiredError}, {@link JobNotFoundError}, {@link JobTimeoutError},
   * or the signal's reason.
   *
   * ```ts
   * const { url } = (await waiter.wait(id, { timeoutMs: 60_000 })) as { url: string }
   * ```
   */
  wait(id: JobId, options: WaitOptions = {}): Promise<unknown> {
    const jobId = assertJobId(id)
    const { timeoutMs, signal, onProgress } = options
    if (timeoutMs !== undefined) {
      assertInt(timeoutMs, 'timeoutMs', 0, MAX_TIMER_MS, 'must be an integer number of ms ≥ 0')
    }
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw new PgqValidationError('onProgress', 'must be a function', onProgress)
    }
    if (this.#closed) return Promise.reject(new PgqError('PGQ_CLOSED', 'the result waiter is closed'))
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => waiter.settle({ error: signal?.reason })
      const waiter: Waiter = {
        id: jobId,
        onProgress,
        lastState: undefined,
        lastProgress: undefined,
        settle: (outcome) => {
          const set = this.#waiters.get(jobId)
          if (!set?.delete(waiter)) return
          if (set.size === 0) this.#waiters.delete(jobId)
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          if (this.#waiters.size === 0) this.#becomeIdle()
          if ('error' in outcome) reject(outcome.error)
          else resolve(outcome.value)
        },
      }
      const set = this.#waiters.get(jobId) ?? new Set()
      set.add(waiter)
      this.#waiters.set(jobId, set)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.settle({ error: new JobTimeoutError(jobId, timeoutMs, waiter.lastState) }),
          timeoutMs,
        )
      }
      clearTimeout(this.#idleTimer)
      this.#startPolling()
      // Read the job only once LISTEN is active, so a finish in between cannot be missed.
      void this.#listen().then(() => this.#requestCheck([jobId]))
    })
  }

  /** Rejects every wait in progress and ends its subscription (and its own notifier, if it made one). */
  async close(): Promise<void> {
    this.#closed = true
    for (const set of [...this.#waiters.values()]) {
      for (const waiter of [...set]) {
        waiter.settle({ error: new PgqError('PGQ_CLOSED', `stopped waiting for job ${waiter.id}: closed`) })
      }
    }
    await this.#unsubscribe()
    if (this.#ownsNotifier) await this.#notifier?.close()
  }

  #startPolling(): void {
    if (this.#pollTimer) return
    this.#pollTimer = setInterval(() => this.#requestCheck([...this.#waiters.keys()]), this.#pollIntervalMs)
  }

  #becomeIdle(): void {
    clearInterval(this.#pollTimer)
    this.#pollTimer = undefined
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      if (this.#waiters.size === 0) void this.#unsubscribe()
    }, this.#idleMs)
    this.#idleTimer.unref?.()
  }

  async #unsubscribe(): Promise<void> {
    clearTimeout(this.#idleTimer)
    clearInterval(this.#pollTimer)
    this.#pollTimer = undefined
    this.#offReconnect?.()
    this.#offReconnect = undefined
    const subscription = this.#subscription
    this.#subscription = undefined
    const unsubscribe = await subscription
    await unsubscribe?.()
  }

  /** Resolves once LISTEN is active, or once connecting failed (polling carries on; the notifier retries). */
  async #listen(): Promise<void> {
    if (this.#closed || !this.#notifier) return
    const notifier = this.#notifier
    if (!this.#subscription) {
      // Anything may have finished while the notifier was reconnecting.
      this.#offReconnect = notifier.onReconnect(() => this.#requestCheck([...this.#waiters.keys()]))
      this.#subscription = notifier
        .subscribe(this.#names.eventsChannel, (payload) => this.#onNotification(payload))
        .catch(() => undefined) // closed notifier: polling carries on
    }
    await this.#subscription
  }

  #onNotification(payload: string): void {
    const event = parseJobEvent(payload)
    if (!event || event.kind === 'cancel') return
    const due: string[] = []
    for (const id of event.ids) {
      const set = this.#waiters.get(id)
      if (set && (event.kind === 'finished' || [...set].some((w) => w.onProgress))) due.push(id)
    }
    if (due.length > 0) this.#requestCheck(due)
  }

  /** Batches reads: ids requested while a read is in flight are read together right after it. */
  #requestCheck(ids: readonly string[]): void {
    for (const id of ids) if (this.#waiters.has(id)) this.#pending.add(id)
    if (this.#pending.size === 0 || this.#checking) return
    this.#checking = this.#runChecks().finally(() => {
      this.#checking = undefined
      if (this.#pending.size > 0) this.#requestCheck([])
    })
  }

  async #runChecks(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    const ids = [...this.#pending]
    this.#pending.clear()
    // The waiters this read is for. A wait that begins while the read is in flight reads the job
    // again itself (its own request), so a row read before it began — before a retry, say — is
    // never applied to it.
    const waiting = ids.map((id) => [id, [...(this.#waiters.get(id) ?? [])]] as const)
    let rows: JobOutcomeRow[]
    try {
      rows = await getJobOutcomes(this.#pool, this.#names, ids)
    } catch {
      return // the database is unreachable: the next poll tries again
    }
    const found = new Map(rows.map((row) => [row.id, row]))
    for (const [id, waiters] of waiting) {
      const row = found.get(id)
      const current = this.#waiters.get(id)
      for (const waiter of waiters) if (current?.has(waiter)) this.#apply(waiter, row)
    }
  }

  #apply(waiter: Waiter, row: JobOutcomeRow | undefined): void {
    if (!row) {
      waiter.settle({ error: new JobNotFoundError(waiter.id) })
      return
    }
    waiter.lastState = row.state
    if (waiter.onProgress && row.progress !== null) {
      const text = JSON.stringify(row.progress)
      if (text !== waiter.lastProgress) {
        waiter.lastProgress = text
        try {
          waiter.onProgress(row.progress)
        } catch {
          // a throwing callback must not break the waiter
        }
      }
    }
    if (row.state === 'succeeded') waiter.settle({ value: row.result })
    else if (row.state === 'failed') {
      waiter.settle({ error: new JobFailedError(waiter.id, row.task, row.errors ?? []) })
    } else if (row.state === 'cancelled') waiter.settle({ error: new JobCancelledError(waiter.id, row.task) })
    else if (row.state === 'expired') waiter.settle({ error: new JobExpiredError(waiter.id, row.task) })
  }
}
