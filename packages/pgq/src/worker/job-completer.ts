import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import type { StatementMode } from '../db/statement-mode.js'
import { type ClaimedJob, type FinalizeItem, finalizeJobs } from '../sql/worker-queries.js'
import { Backoff } from '../util/backoff.js'
import type { JobOutcome } from './outcome.js'
import type { Service } from './service.js'

/**
 * What became of an outcome handed to the completer: the state the job was written in (a retry
 * or snooze requested while a cancel was pending is written `cancelled`), `fenced` when the
 * database refused it (the lease had been lost), `abandoned` when the worker stopped before it
 * could be written (the lease expires and the rescuer runs the job again).
 */
export type CompletionResult = FinalizeItem['state'] | 'fenced' | 'abandoned'

/** @internal Options of {@link JobCompleter}. */
export interface JobCompleterOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly maxErrorsKept: number
  /** Commit outcomes with the server's `synchronous_commit` instead of `off` (default false). */
  readonly synchronousCommit?: boolean
  /** Named prepared statements or not; the worker's {@link StatementMode} also recovers from a pooler losing them. */
  readonly preparedStatements: boolean | StatementMode
  /** Largest batch per statement (default 500). */
  readonly maxBatch?: number
  /** Backoff after a failed write (default 50 ms doubling to 5 s). */
  readonly backoff?: Backoff
  readonly onError: (component: string, error: unknown) => void
  /** A write went through (the database is reachable). */
  readonly onSuccess?: () => void
  /** A batch was written and left the buffer: {@link JobCompleter.backlog} just shrank. */
  readonly onWritten?: (backlog: number) => void
}

interface Pending {
  readonly item: FinalizeItem
  readonly resolve: (result: CompletionResult) => void
}

/**
 * @internal Writes job outcomes in batches: while one batch is being written, the next
 * accumulates, so a busy worker writes many outcomes per round trip and an idle one writes each at
 * once. Each write is fenced by lease token (see `finalizeJobs`); `complete()` resolves with what
 * the database did. A failed write (database down) is retried with backoff; the outcomes stay
 * buffered meanwhile.
 *
 * ```ts
 * const result = await completer.complete(job.claim, { kind: 'snoozed', delayMs: 1_000 })
 * if (result === 'fenced') console.log('another worker owns the job now')
 * ```
 */
export class JobCompleter implements Service {
  readonly #options: JobCompleterOptions
  readonly #backoff: Backoff
  #buffer: Pending[] = []
  #flushing: Promise<void> | undefined
  #stopped = false
  #abort = new AbortController()

  constructor(options: JobCompleterOptions) {
    this.#options = Object.freeze({ maxBatch: 500, ...options })
    this.#backoff = options.backoff ?? new Backoff({ minMs: 50, maxMs: 5_000 })
  }

  /** Outcomes waiting to be written (the fetcher stops claiming when this grows too large). */
  get backlog(): number {
    return this.#buffer.length
  }

  start(): void {
    this.#stopped = false
    this.#abort = new AbortController()
  }

  /** Queues one outcome for writing; resolves once the database wrote or refused it. */
  complete(claim: ClaimedJob, outcome: JobOutcome): Promise<CompletionResult> {
    // ctx.transaction wrote it with the handler's own writes: writing it again would be fenced
    if (outcome.kind === 'succeeded' && outcome.committed) return Promise.resolve('succeeded')
    if (this.#stopped) return Promise.resolve('abandoned')
    return new Promise((resolve) => {
      this.#buffer.push({ item: toFinalizeItem(claim, outcome), resolve })
      if (!this.#flushing) this.#startDrain()
    })
  }

  /** The database is reachable again: retry a failed write now instead of after the backoff. */
  resume(): void {
    this.#backoff.skip()
  }

  #startDrain(): void {
    // Write on the next turn of the event loop, so outcomes produced in this turn share one
    // statement. An outcome pushed after the drain's last check but before this promise settles
    // finds #flushing still set, so the .finally callback starts another drain for it.
    this.#flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#drain())
      .finally(() => {
        this.#flushing = undefined
        if (this.#buffer.length > 0 && !this.#stopped) this.#startDrain()
      })
  }

  /** Writes everything buffered (retrying until it lands or `stop` gives up). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing
  }

  /** Flushes, trying for at most `timeoutMs` when the database is unreachable; the rest is abandoned. */
  async stop(timeoutMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs)
      timer.unref()
    })
    await Promise.race([this.flush(), gaveUp])
    clearTimeout(timer)
    this.#stopped = true
    this.#abort.abort()
    for (const pending of this.#buffer.splice(0)) pending.resolve('abandoned')
  }

  async #drain(): Promise<void> {
    while (this.#buffer.length > 0 && !this.#stopped) {
      const batch = this.#buffer.splice(0, this.#options.maxBatch!)
      let written: Map<string, FinalizeItem['state']>
      try {
        const { pool, names, maxErrorsKept, preparedStatements: mode, synchronousCommit } = this.#options
        const items = batch.map((p) => p.item)
        const write = (prepared: boolean) =>
          finalizeJobs(pool, names, items, maxErrorsKept, prepared, synchronousCommit)
        written = await (typeof mode === 'boolean' ? write(mode) : mode.run(write))
      } catch (error) {
        if (this.#stopped) {
          for (const pending of batch) pending.resolve('abandoned')
          return
        }
        this.#buffer.unshift(...batch)
        this.#options.onError('completer', error)
        await this.#backoff.wait(this.#abort.signal)
        continue
      }
      this.#backoff.reset()
      this.#options.onSuccess?.()
      for (const { item, resolve } of batch) resolve(written.get(item.id) ?? 'fenced')
      this.#options.onWritten?.(this.#buffer.length)
    }
  }
}

/** The finalize statement's row for one outcome. */
export function toFinalizeItem(claim: ClaimedJob, outcome: JobOutcome): FinalizeItem {
  const { id, leaseToken } = claim
  // one literal per kind (no spread of a default row): this runs for every job
  switch (outcome.kind) {
    case 'succeeded':
      return {
        id,
        leaseToken,
        state: 'succeeded',
        result: outcome.result,
        error: null,
        delayMs: 0,
        refundAttempt: false,
        retentionMs: outcome.retentionMs,
        queue: null,
      }
    case 'retry':
      return {
        id,
        leaseToken,
        state: 'available',
        result: null,
        error: outcome.errorJson,
        delayMs: outcome.delayMs,
        refundAttempt: false,
        retentionMs: null,
        queue: null,
      }
    case 'snoozed':
      return {
        id,
        leaseToken,
        state: 'available',
        result: null,
        error: null,
        delayMs: outcome.delayMs,
        refundAttempt: true,
        retentionMs: null,
        queue: null,
      }
    case 'failed':
      return {
        id,
        leaseToken,
        state: 'failed',
        result: null,
        error: outcome.errorJson,
        delayMs: 0,
        refundAttempt: false,
        retentionMs: outcome.retentionMs,
        queue: outcome.deadLetterQueue,
      }
    case 'cancelled':
      return {
        id,
        leaseToken,
        state: 'cancelled',
        result: null,
        error: outcome.errorJson,
        delayMs: 0,
        refundAttempt: false,
        retentionMs: outcome.retentionMs,
        queue: null,
      }
  }
}
