// The live feed behind `GET <base>/events` (server-sent events). It subscribes to the client's
// Notifier on the jobs and events channels while at least one browser listens, and coalesces what
// it hears: the state and progress of the job a browser watches (`?job=<id>`) and new failures at
// most every FLUSH_MS, fresh queue counts for everyone at most every COUNTS_MS. A slow timer
// refreshes the counts too (a scheduled job becoming due sends no notification, and notifications
// are hints).
//
// Events: `counts` {queues: QueueCountsRow[]}, `job` JobLiveRow, `failure` JobLiveRow.
import type { ServerResponse } from 'node:http'
import { parseJobEvent, type Unsubscribe } from '@pgq/core/internal'
import { securityHeaders } from '../http/responses.js'
import { type Db, type JobLiveRow, jobsLive, type Names, queueCounts } from '../sql/dashboard-queries.js'

/** Job events (progress, state, failures) at most this often: about four updates per second. */
export const FLUSH_MS = 250
/** Queue counts at most this often (their statement reads every waiting, running and failed job). */
export const COUNTS_MS = 1_000
/** Counts are refreshed at least this often while browsers listen. */
export const REFRESH_MS = 5_000
/** Ids looked up per update at most (a burst of finished jobs is sampled, newest first). */
const MAX_IDS = 200

interface Client {
  readonly res: ServerResponse
  readonly job: string | null
}

/** Options of {@link LiveFeed}. */
export interface LiveFeedOptions {
  readonly db: Db
  readonly names: Names
  /** Subscribes to a channel (the pgq client's notifier), or undefined when it has none (then it polls). */
  readonly subscribe:
    | ((channel: string, handler: (payload: string) => void) => Promise<Unsubscribe>)
    | undefined
}

/** Fans database notifications out to the browsers listening on `/events`. */
export class LiveFeed {
  readonly #options: LiveFeedOptions
  readonly #clients = new Set<Client>()
  readonly #changed = new Set<string>()
  readonly #finished = new Set<string>()
  #unsubscribe: Unsubscribe[] = []
  /** The subscriptions being set up or in place; undefined while the feed is stopped. */
  #starting: Promise<void> | undefined
  /** Counts stops, so a start that was stopped while it subscribed drops what it subscribed. */
  #generation = 0
  #flushTimer: NodeJS.Timeout | undefined
  #refreshTimer: NodeJS.Timeout | undefined
  #lastFlush = 0
  #lastCounts = 0
  #countsDirty = false
  #flushing = false
  #closed = false

  constructor(options: LiveFeedOptions) {
    this.#options = options
  }

  /** Starts streaming to `res`; ends when the browser goes away or the feed closes. */
  async add(res: ServerResponse, job: string | null): Promise<void> {
    securityHeaders(res)
    // Listen before the stream opens: once the browser sees it open (and shows "live"), no event
    // may be missed. A stop of the feed while this waited (its last browser left) starts it again.
    for (;;) {
      if (this.#closed || res.destroyed) break
      this.#starting ??= this.#start()
      const starting = this.#starting
      await starting
      if (this.#starting === starting) break
    }
    if (this.#closed) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('the dashboard is closing\n')
      return
    }
    if (res.destroyed) {
      if (this.#clients.size === 0) await this.#stop() // the browser left while we subscribed
      return
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    res.write('retry: 2000\n\n')
    const client: Client = { res, job }
    this.#clients.add(client)
    res.on('close', () => {
      this.#clients.delete(client)
      if (this.#clients.size === 0) void this.#stop()
    })
    await this.#sendInitial(client)
  }

  /** Ends every stream and the subscriptions. */
  async close(): Promise<void> {
    this.#closed = true
    for (const client of this.#clients) client.res.end()
    this.#clients.clear()
    await this.#stop()
  }

  async #start(): Promise<void> {
    const { subscribe, names } = this.#options
    const generation = this.#generation
    this.#refreshTimer = setInterval(() => this.#countsDue(), REFRESH_MS)
    this.#refreshTimer.unref()
    if (!subscribe) return
    const subscriptions: Unsubscribe[] = []
    try {
      subscriptions.push(await subscribe(names.jobsChannel, () => this.#countsDue()))
      subscriptions.push(await subscribe(names.eventsChannel, (payload) => this.#onEvent(payload)))
    } catch {
      // no notifications: the refresh timer keeps the browsers up to date
    }
    if (generation === this.#generation) this.#unsubscribe = subscriptions
    else await Promise.all(subscriptions.map((u) => u().catch(() => {}))) // stopped meanwhile
  }

  async #stop(): Promise<void> {
    this.#starting = undefined
    this.#generation += 1
    clearInterval(this.#refreshTimer)
    clearTimeout(this.#flushTimer)
    this.#refreshTimer = undefined
    this.#flushTimer = undefined
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = []
    await Promise.all(unsubscribe.map((u) => u().catch(() => {})))
  }

  #onEvent(payload: string): void {
    const event = parseJobEvent(payload)
    if (event) {
      for (const id of event.ids) {
        this.#changed.add(id)
        if (event.kind === 'finished') this.#finished.add(id)
      }
    }
    this.#countsDue()
  }

  /** The counts changed (or may have): refresh them at the next allowed moment. */
  #countsDue(): void {
    this.#countsDirty = true
    this.#schedule()
  }

  /**
   * Arms the flush timer for the earliest pending update: job events FLUSH_MS after the last flush,
   * counts COUNTS_MS after the last counts.
   */
  #schedule(): void {
    if (this.#closed || this.#flushTimer || this.#flushing || this.#clients.size === 0) return
    const jobsAt = this.#changed.size > 0 ? this.#lastFlush + FLUSH_MS : Number.POSITIVE_INFINITY
    const countsAt = this.#countsDirty ? this.#lastCounts + COUNTS_MS : Number.POSITIVE_INFINITY
    const at = Math.min(jobsAt, countsAt)
    if (at === Number.POSITIVE_INFINITY) return
    this.#flushTimer = setTimeout(
      () => {
        this.#flushTimer = undefined
        void this.#flush()
      },
      Math.max(0, at - Date.now()),
    )
    this.#flushTimer.unref()
  }

  async #flush(): Promise<void> {
    this.#flushing = true
    const now = Date.now()
    this.#lastFlush = now
    const withCounts = this.#countsDirty && now >= this.#lastCounts + COUNTS_MS
    if (withCounts) {
      this.#countsDirty = false
      this.#lastCounts = now
    }
    const ids = [...this.#changed].slice(-MAX_IDS)
    const finished = new Set(this.#finished)
    this.#changed.clear()
    this.#finished.clear()
    try {
      const { db, names } = this.#options
      const [queues, jobs] = await Promise.all([
        withCounts ? queueCounts(db, names) : Promise.resolve(null),
        jobsLive(db, names, ids),
      ])
      for (const job of jobs) {
        for (const client of this.#clients) if (client.job === job.id) send(client.res, 'job', job)
        if (job.state === 'failed' && finished.has(job.id)) this.#broadcast('failure', job)
      }
      if (queues) this.#broadcast('counts', { queues })
    } catch {
      // the database is unreachable for now: the next notification or refresh tries again
    } finally {
      this.#flushing = false
      this.#schedule() // what arrived meanwhile, or counts not yet due
    }
  }

  async #sendInitial(client: Client): Promise<void> {
    try {
      const { db, names } = this.#options
      const [queues, jobs] = await Promise.all([
        queueCounts(db, names),
        client.job ? jobsLive(db, names, [client.job]) : Promise.resolve([] as JobLiveRow[]),
      ])
      send(client.res, 'counts', { queues })
      if (jobs[0]) send(client.res, 'job', jobs[0])
    } catch {
      // the refresh timer sends the next update
    }
  }

  #broadcast(event: string, data: unknown): void {
    for (const client of this.#clients) send(client.res, event, data)
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}
