import pg from 'pg'
import { PgqError, PgqValidationError } from '../errors.js'
import type { Logger } from '../logger.js'
import { listenTo, unlistenFrom } from '../sql/notify-queries.js'
import { Backoff } from '../util/backoff.js'
import { OutageLog } from '../util/outage-log.js'

/** Options of {@link Notifier}. */
export interface NotifierOptions {
  /** Where to LISTEN: a direct PostgreSQL URL (not a transaction-mode pooler). */
  readonly connectionString: string
  /** Reconnect backoff: first and largest delay in ms (defaults 100 and 5,000). */
  readonly minBackoffMs?: number
  readonly maxBackoffMs?: number
  /** While an outage lasts, a reminder line at most this often, in ms (default 30,000). */
  readonly reminderMs?: number
}

/**
 * Called with each payload sent on the channel, and the process id of the PostgreSQL backend that
 * sent it (every listener sees the same one). Must not throw (a throw is swallowed).
 */
export type NotificationHandler = (payload: string, senderPid: number) => void

/** Ends one subscription; the LISTEN ends with the channel's last subscription. Idempotent. */
export type Unsubscribe = () => Promise<void>

/**
 * One LISTEN connection shared by everything in a process that wants notifications (workers'
 * queue wake-ups and cancellations, result waiting, dashboards). It opens with the first
 * subscription and closes with the last. When the connection dies (restart, `pg_terminate_backend`,
 * network) it reconnects with capped, jittered backoff, LISTENs again, and runs the `onReconnect`
 * hooks so subscribers can catch up on what they missed. An outage logs one line when it starts,
 * a reminder at most every 30 s, and one line when it ends (see `OutageLog`). Notifications are hints: subscribers
 * keep a slow poll.
 *
 * ```ts
 * const notifier = new Notifier({ connectionString: process.env.DATABASE_URL! })
 * const stop = await notifier.subscribe('pgq:events', (payload) => console.log(payload))
 * const off = notifier.onReconnect(() => recheckEverything())
 * await stop(); off(); await notifier.close()
 * ```
 */
export class Notifier {
  readonly connectionString: string
  readonly #backoff: Backoff
  readonly #outage: OutageLog
  readonly #handlers = new Map<string, Map<symbol, NotificationHandler>>()
  readonly #listening = new Set<string>()
  readonly #reconnectHooks = new Set<() => void>()
  readonly #disconnectHooks = new Set<(error: Error | undefined) => void>()
  readonly #loggers = new Set<Logger>()
  #client: pg.Client | undefined
  #work: Promise<void> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #catchUpDue = false
  #connects = 0
  #closed = false

  constructor(options: NotifierOptions) {
    if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
      throw new PgqValidationError('connectionString', 'must be a PostgreSQL URL', options?.connectionString)
    }
    this.connectionString = options.connectionString
    this.#backoff = new Backoff({ minMs: options.minBackoffMs ?? 100, maxMs: options.maxBackoffMs ?? 5_000 })
    const each =
      (level: keyof Logger): Logger[keyof Logger] =>
      (message, fields) => {
        for (const logger of this.#loggers) logger[level](message, fields)
      }
    this.#outage = new OutageLog({
      logger: { debug: each('debug'), info: each('info'), warn: each('warn'), error: each('error') },
      reminderMs: options.reminderMs ?? 30_000,
    })
  }

  /** True while the LISTEN connection is up. */
  get connected(): boolean {
    return this.#client !== undefined
  }

  /** How many connections this notifier has opened so far (1 plus one per reconnection). */
  get connects(): number {
    return this.#connects
  }

  /**
   * Calls `handler` with every payload on `channel` until the returned function is called.
   * Resolves once the LISTEN is active, or once connecting failed (it is then retried in the
   * background and the `onReconnect` hooks run when it succeeds).
   *
   * ```ts
   * const unsubscribe = await notifier.subscribe('pgq:jobs', (queue) => wake(queue))
   * ```
   */
  async subscribe(channel: string, handler: NotificationHandler): Promise<Unsubscribe> {
    if (typeof channel !== 'string' || channel === '' || Buffer.byteLength(channel) > 63) {
      throw new PgqValidationError('channel', 'must be a channel name of 1 to 63 bytes', channel)
    }
    if (typeof handler !== 'function') throw new PgqValidationError('handler', 'must be a function', handler)
    if (this.#closed) throw new PgqError('PGQ_CLOSED', 'the notifier is closed')
    const key = Symbol(channel)
    const handlers = this.#handlers.get(channel) ?? new Map()
    handlers.set(key, handler)
    this.#handlers.set(channel, handlers)
    await this.#reconcile()
    let done = false
    return async () => {
      if (done) return
      done = true
      const set = this.#handlers.get(channel)
      set?.delete(key)
      if (set?.size === 0) this.#handlers.delete(channel)
      await this.#reconcile()
    }
  }

  /**
   * Runs `hook` each time the connection comes back after a loss or a failed try, once every
   * channel is LISTENed again: re-check whatever a missed notification would have announced.
   * Returns a function that removes the hook.
   *
   * ```ts
   * const off = notifier.onReconnect(() => fetcher.wake())
   * ```
   */
  onReconnect(hook: () => void): () => void {
    this.#reconnectHooks.add(hook)
    return () => this.#reconnectHooks.delete(hook)
  }

  /**
   * Runs `hook` when the connection is lost (once per loss, not per failed retry).
   *
   * ```ts
   * const off = notifier.onDisconnect((error) => metrics.increment('listen.lost'))
   * ```
   */
  onDisconnect(hook: (error: Error | undefined) => void): () => void {
    this.#disconnectHooks.add(hook)
    return () => this.#disconnectHooks.delete(hook)
  }

  /**
   * Sends the notifier's few log lines (outage start, reminder, end) to `logger` too, until the
   * returned function is called. pgq is silent by default; a worker attaches its logger.
   *
   * ```ts
   * const detach = notifier.attachLogger(createLineLogger('info'))
   * ```
   */
  attachLogger(logger: Logger): () => void {
    this.#loggers.add(logger)
    return () => this.#loggers.delete(logger)
  }

  /** Ends the connection and every subscription; later `subscribe` calls reject. */
  async close(): Promise<void> {
    this.#closed = true
    this.#handlers.clear()
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#reconcile()
  }

  /** Brings the connection and its LISTENs in line with the subscriptions; one run at a time. */
  #reconcile(): Promise<void> {
    const run = this.#work.then(() => this.#reconcileNow())
    this.#work = run.catch(() => {})
    return this.#work
  }

  async #reconcileNow(): Promise<void> {
    if (this.#handlers.size === 0) {
      const client = this.#client
      this.#client = undefined
      this.#listening.clear()
      await client?.end().catch(() => {})
      return
    }
    if (!this.#client) {
      if (this.#timer) return // a reconnect is scheduled; keep to the backoff
      const client = await this.#connect()
      if (!client) return
      this.#client = client
    }
    const client = this.#client
    try {
      for (const channel of this.#handlers.keys()) {
        if (this.#listening.has(channel)) continue
        await listenTo(client, channel)
        this.#listening.add(channel)
      }
      for (const channel of [...this.#listening]) {
        if (this.#handlers.has(channel)) continue
        this.#listening.delete(channel)
        await unlistenFrom(client, channel)
      }
    } catch (error) {
      this.#lost(client, error as Error)
      return
    }
    if (this.#client !== client) return
    this.#outage.succeeded()
    this.#backoff.reset()
    if (this.#catchUpDue) {
      this.#catchUpDue = false
      for (const hook of [...this.#reconnectHooks]) {
        try {
          hook()
        } catch {
          // a subscriber's hook must not stop the others
        }
      }
    }
  }

  async #connect(): Promise<pg.Client | undefined> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      application_name: 'pgq_listener',
    })
    client.on('error', (error) => this.#lost(client, error))
    client.on('end', () => this.#lost(client, undefined))
    client.on('notification', (n) => this.#dispatch(n.channel, n.payload ?? '', n.processId))
    try {
      await client.connect()
    } catch (error) {
      client.end().catch(() => {})
      this.#failed(error as Error)
      return undefined
    }
    this.#connects += 1
    return client
  }

  #dispatch(channel: string, payload: string, senderPid: number): void {
    for (const handler of [...(this.#handlers.get(channel)?.values() ?? [])]) {
      try {
        handler(payload, senderPid)
      } catch {
        // a subscriber's handler must not stop the others
      }
    }
  }

  /** The live connection died: forget it, tell the subscribers once, and reconnect. */
  #lost(client: pg.Client, error: Error | undefined): void {
    if (this.#client !== client) return // not ours any more (closed on purpose, or already handled)
    this.#client = undefined
    this.#listening.clear()
    client.end().catch(() => {})
    if (this.#handlers.size === 0) return
    for (const hook of [...this.#disconnectHooks]) {
      try {
        hook(error)
      } catch {
        // a subscriber's hook must not stop the others
      }
    }
    this.#failed(error)
  }

  /** A loss or a failed try: the outage log decides whether it is a line; retry after the backoff. */
  #failed(error: Error | undefined): void {
    this.#catchUpDue = true
    this.#outage.failed('notifier: LISTEN connection', error ?? new Error('connection ended'))
    if (this.#closed || this.#handlers.size === 0 || this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#reconcile()
    }, this.#backoff.next())
    this.#timer.unref?.()
  }
}
