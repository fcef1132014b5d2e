import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import type { StatementMode } from '../db/statement-mode.js'
import { type FinalizeItem, finalizeJobs } from '../sql/worker-queries.js'
import type { Service } from './service.js'

/** @internal Options of {@link JobCompleter}. */
export interface JobCompleterOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly maxErrorsKept: number
  /** Named prepared statements or not; the worker's {@link StatementMode} also recovers from a pooler losing them. */
  readonly preparedStatements: boolean | StatementMode
  /** Largest batch per statement (default 500). */
  readonly maxBatch?: number
  /** Called once per item after its write: `written` false means the lease had been lost. */
  readonly onWritten: (item: FinalizeItem, written: boolean) => void
  readonly onError: (component: string, error: unknown) => void
}

/**
 * @internal Buffers job outcomes and writes them in batches: while one batch is being written, the
 * next accumulates, so a busy worker writes many outcomes per round trip and an idle one writes
 * each at once. Each write is fenced by lease token (see `finalizeJobs`). A failed write (database
 * down) is retried with backoff; the outcomes stay buffered meanwhile.
 */
export class JobCompleter implements Service {
  readonly #options: JobCompleterOptions
  #buffer: FinalizeItem[] = []
  #flushing: Promise<void> | undefined
  #retryDelayMs = 0
  #stopped = false

  constructor(options: JobCompleterOptions) {
    this.#options = Object.freeze({ maxBatch: 500, ...options })
  }

  /** Outcomes waiting to be written (the fetcher stops claiming when this grows too large). */
  get backlog(): number {
    return this.#buffer.length
  }

  start(): void {
    this.#stopped = false
  }

  push(item: FinalizeItem): void {
    this.#buffer.push(item)
    if (!this.#flushing) this.#startDrain()
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

  /** Flushes, trying for at most `timeoutMs` when the database is unreachable. */
  async stop(timeoutMs = 5_000): Promise<void> {
    const gaveUp = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())
    await Promise.race([this.flush(), gaveUp])
    this.#stopped = true
  }

  async #drain(): Promise<void> {
    while (this.#buffer.length > 0 && !this.#stopped) {
      if (this.#retryDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs))
      const batch = this.#buffer.splice(0, this.#options.maxBatch!)
      try {
        const { pool, names, maxErrorsKept, preparedStatements: mode } = this.#options
        const write = (prepared: boolean) => finalizeJobs(pool, names, batch, maxErrorsKept, prepared)
        const written = new Set(await (typeof mode === 'boolean' ? write(mode) : mode.run(write)))
        this.#retryDelayMs = 0
        for (const item of batch) this.#options.onWritten(item, written.has(item.id))
      } catch (error) {
        this.#buffer.unshift(...batch)
        this.#retryDelayMs = Math.min(5_000, Math.max(50, this.#retryDelayMs * 2))
        this.#options.onError('completer', error)
      }
    }
  }
}
