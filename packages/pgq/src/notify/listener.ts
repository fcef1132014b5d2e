import pg from 'pg'
import { quoteIdentifier } from '../db/identifiers.js'
import type { Logger } from '../logger.js'
import type { Service } from '../worker/service.js'

/** Options of {@link Listener}. */
export interface ListenerOptions {
  readonly connectionString: string
  readonly channels: readonly string[]
  readonly onNotification: (channel: string, payload: string) => void
  /** Called after every (re)connection, so callers can poll for what they may have missed. */
  readonly onConnected: () => void
  readonly onDisconnected: (error: Error | undefined) => void
  readonly logger: Logger
  /** Reconnect backoff: first and largest delay in ms (defaults 100 and 5,000). */
  readonly minBackoffMs?: number
  readonly maxBackoffMs?: number
}

/**
 * Holds one LISTEN connection per process. When it dies (server restart, `pg_terminate_backend`,
 * network) it reconnects with capped, jittered backoff and LISTENs again; it logs once per outage,
 * not once per try. Notifications are only hints: callers always keep polling.
 *
 * ```ts
 * const listener = new Listener({ connectionString, channels: ['pgq:jobs'], onNotification, onConnected, onDisconnected, logger })
 * await listener.start()
 * ```
 */
export class Listener implements Service {
  readonly #options: ListenerOptions
  #client: pg.Client | undefined
  #stopped = true
  #timer: NodeJS.Timeout | undefined
  #failures = 0
  #connecting: Promise<void> | undefined

  constructor(options: ListenerOptions) {
    this.#options = Object.freeze({ minBackoffMs: 100, maxBackoffMs: 5_000, ...options })
  }

  /** True while a LISTEN connection is up. */
  get connected(): boolean {
    return this.#client !== undefined
  }

  /** Connects; a failure is not fatal (the caller polls) and is retried in the background. */
  async start(): Promise<void> {
    this.#stopped = false
    await this.#connect()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#connecting
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  #connect(): Promise<void> {
    this.#connecting = this.#tryConnect().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  async #tryConnect(): Promise<void> {
    if (this.#stopped) return
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      keepAlive: true,
      application_name: 'pgq_listener',
    })
    let lost = false
    const onLost = (error?: Error) => {
      if (lost) return
      lost = true
      const wasConnected = this.#client === client
      if (wasConnected) this.#client = undefined
      client.end().catch(() => {})
      if (this.#stopped) return
      if (wasConnected) {
        this.#options.logger.warn('listener: connection lost; reconnecting, polling meanwhile', {
          error: error?.message,
        })
        this.#options.onDisconnected(error)
      }
      this.#scheduleReconnect()
    }
    client.on('error', onLost)
    client.on('end', () => onLost(undefined))
    client.on('notification', (n) => {
      if (n.payload !== undefined) this.#options.onNotification(n.channel, n.payload)
    })
    try {
      await client.connect()
      for (const channel of this.#options.channels) await client.query(`LISTEN ${quoteIdentifier(channel)}`)
    } catch (error) {
      if (this.#failures === 0) {
        this.#options.logger.warn('listener: cannot connect; polling until it can', {
          error: (error as Error).message,
        })
      }
      onLost(error as Error)
      return
    }
    if (this.#stopped) {
      await client.end().catch(() => {})
      return
    }
    if (this.#failures > 0)
      this.#options.logger.info('listener: reconnected', { after_tries: this.#failures })
    this.#failures = 0
    this.#client = client
    this.#options.onConnected()
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#timer) return
    const { minBackoffMs = 100, maxBackoffMs = 5_000 } = this.#options
    const base = Math.min(maxBackoffMs, minBackoffMs * 2 ** this.#failures)
    this.#failures += 1
    const delay = base / 2 + (Math.random() * base) / 2
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#connect()
    }, delay)
    this.#timer.unref?.()
  }
}
