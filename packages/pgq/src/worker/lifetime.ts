/**
 * What `worker.start()` returns: `closed` settles when the worker has stopped — it resolves after
 * `stop()`, and rejects with a {@link PgqSchemaVersionError} when the worker stopped itself because
 * the schema was migrated to another version under it (the only fatal condition; losing the
 * database is not one: the worker waits and resumes).
 *
 * ```ts
 * const { closed } = await worker.start()
 * await closed.catch((error) => { console.error(error.message); process.exitCode = 70 })
 * ```
 */
export interface WorkerHandle {
  readonly closed: Promise<void>
}

/**
 * @internal A running worker's hold on the process and its `closed` promise. Every loop timer of a
 * worker is unref()ed (a sleeping retry must not keep a finished program alive), so while the
 * worker runs this keeps one ref'd timer: an idle worker whose connections are all gone still
 * keeps the process up until `stop()` or a fatal error.
 *
 * ```ts
 * const lifetime = new WorkerLifetime()
 * lifetime.begin()
 * lifetime.end() // lifetime.closed resolves
 * ```
 */
export class WorkerLifetime {
  readonly closed: Promise<void>
  #resolve!: () => void
  #reject!: (error: Error) => void
  #keepAlive: NodeJS.Timeout | undefined
  #ended = false

  constructor() {
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // a host that never awaits `closed` must not crash on an unhandled rejection; one that
    // awaits it still sees the error
    this.closed.catch(() => {})
  }

  /** The worker is running: hold the event loop open. */
  begin(): void {
    if (this.#ended || this.#keepAlive) return
    this.#keepAlive = setInterval(() => {}, 2 ** 30)
  }

  /** The worker is stopped: release the event loop, settle `closed` (rejected with `error` if given). */
  end(error?: Error): void {
    clearInterval(this.#keepAlive)
    this.#keepAlive = undefined
    if (this.#ended) return
    this.#ended = true
    if (error) this.#reject(error)
    else this.#resolve()
  }
}
