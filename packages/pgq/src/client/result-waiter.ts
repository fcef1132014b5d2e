import pg from 'pg'
import { assertJobId, type JobId } from '../admin/job-filter.js'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import {
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  JobTimeoutError,
  PgqError,
  PgqValidationError,
} from '../errors.js'
import { getJobOutcomes, type JobOutcomeRow, listenTo } from '../sql/admin-queries.js'

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

interface Waiter {
  readonly id: string
  readonly onProgress: ((progress: unknown) => void) | undefined
  lastState: string | undefined
  lastProgress: string | undefined
  settle(outcome: { value: unknown } | { error: unknown }): void
}

/**
 * Settles waits for jobs' final states, from any process: one LISTEN connection on the schema's
 * `<schema>:events` channel serves every waiter of the process and wakes them on `finished:<id>`
 * (and `progress:<id>`); a slow poll catches anything a notification missed. The connection opens
 * with the first waiter and closes shortly after the last one.
 *
 * ```ts
 * const waiter = new ResultWaiter({ pool, schema: 'pgq' })
 * const result = await waiter.wait(job.id, { timeoutMs: 30_000 }) // or JobFailedError, JobCancelledError, JobTimeoutError
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
  #checking: Promise<void> | undefined
  #client: pg.Client | undefined
  #connecting: Promise<void> | undefined
  #failures = 0
  #pollTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #reconnectTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: ResultWaiterOptions) {
    const { pool, schema, pollIntervalMs = 5_000, idleMs = 2_000 } = options
    if (typeof pool?.connect !== 'function') throw new PgqValidationError('pool', 'must be a pg.Pool', pool)
    for (const [path, value] of [
      ['pollIntervalMs', pollIntervalMs],
      ['idleMs', idleMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
        throw new PgqValidationError(path, 'must be an integer number of ms ≥ 1', value)
      }
    }
    this.#pool = pool
    this.#names = schemaNames(schema)
    this.#pollIntervalMs = pollIntervalMs
    this.#idleMs = idleMs
  }

  /** Number of waits in progress. */
  get size(): number {
    let n = 0
    for (const set of this.#waiters.values()) n += set.size
    return n
  }

  /**
   * Resolves with the job's result once it succeeded; rejects with {@link JobFailedError} (with its
   * error history), {@link JobCancelledError}, {@link JobNotFoundError}, {@link JobTimeoutError},
   * or the signal's reason.
   *
   * ```ts
   * const { url } = (await waiter.wait(id, { timeoutMs: 60_000 })) as { url: string }
   * ```
   */
  wait(id: JobId, options: WaitOptions = {}): Promise<unknown> {
    const jobId = assertJobId(id)
    const { timeoutMs, signal, onProgress } = options
    if (
      timeoutMs !== undefined &&
      (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 2 ** 31 - 1)
    ) {
      throw new PgqValidationError('timeoutMs', 'must be an integer number of ms ≥ 0', timeoutMs)
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

  /** Rejects every wait in progress and closes the LISTEN connection. */
  async close(): Promise<void> {
    this.#closed = true
    for (const set of [...this.#waiters.values()]) {
      for (const waiter of [...set]) {
        waiter.settle({ error: new PgqError('PGQ_CLOSED', `stopped waiting for job ${waiter.id}: closed`) })
      }
    }
    clearTimeout(this.#reconnectTimer)
    await this.#connecting
    await this.#disconnect()
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
      if (this.#waiters.size === 0) void this.#disconnect()
    }, this.#idleMs)
    this.#idleTimer.unref?.()
  }

  async #disconnect(): Promise<void> {
    clearTimeout(this.#idleTimer)
    clearInterval(this.#pollTimer)
    this.#pollTimer = undefined
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  /** Resolves once LISTEN is active, or once connecting failed (polling carries on; a retry is scheduled). */
  #listen(): Promise<void> {
    if (this.#client || this.#closed) return Promise.resolve()
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ ...this.#pool.options, keepAlive: true })
    let lost = false
    const onLost = () => {
      if (lost) return
      lost = true
      if (this.#client === client) this.#client = undefined
      client.end().catch(() => {})
      this.#scheduleReconnect()
    }
    client.on('error', onLost)
    client.on('end', onLost)
    client.on('notification', (n) => this.#onNotification(n.payload))
    try {
      await client.connect()
      await listenTo(client, this.#names.eventsChannel)
    } catch {
      onLost()
      return
    }
    if (lost) return
    this.#failures = 0
    this.#client = client
    if (this.#closed || this.#waiters.size === 0) {
      this.#becomeIdle()
      return
    }
    // Anything may have finished while we were not listening.
    this.#requestCheck([...this.#waiters.keys()])
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#waiters.size === 0 || this.#reconnectTimer) return
    const delay = Math.min(5_000, 100 * 2 ** this.#failures)
    this.#failures += 1
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      void this.#listen()
    }, delay)
    this.#reconnectTimer.unref?.()
  }

  #onNotification(payload: string | undefined): void {
    // `finished:<id>[,<id>…]` (a worker announces a batch of outcomes at once) or `progress:<id>`
    const match = /^(finished|progress):(\d+(?:,\d+)*)$/.exec(payload ?? '')
    if (!match) return
    const [, kind, list] = match
    const due: string[] = []
    for (const id of list!.split(',')) {
      const set = this.#waiters.get(id)
      if (set && (kind === 'finished' || [...set].some((w) => w.onProgress))) due.push(id)
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
    let rows: JobOutcomeRow[]
    try {
      rows = await getJobOutcomes(this.#pool, this.#names, ids)
    } catch {
      return // the database is unreachable: the next poll tries again
    }
    const found = new Map(rows.map((row) => [row.id, row]))
    for (const id of ids) {
      const row = found.get(id)
      for (const waiter of [...(this.#waiters.get(id) ?? [])]) this.#apply(waiter, row)
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
  }
}
