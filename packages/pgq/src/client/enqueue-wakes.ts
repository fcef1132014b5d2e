import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { formatQueueWake } from '../notify/messages.js'
import { notifyMany } from '../sql/notify-queries.js'

/**
 * @internal The wake-ups of concurrent single enqueues on a client's own pool, sent after their
 * commits and folded together: one NOTIFY per queue for all the enqueues that committed in the same
 * turn of the event loop.
 *
 * Why: PostgreSQL holds one lock per database from the moment a notifying transaction commits until
 * its commit record is flushed, so notifying commits cannot share a WAL flush (group commit): with
 * many producers, the NOTIFY inside each enqueue's transaction caps enqueues at one per flush. An
 * enqueue that runs while another of this client is in flight therefore commits without its NOTIFY
 * and leaves it here; the NOTIFY then goes in a transaction of its own that writes no WAL. A lone
 * enqueue keeps its NOTIFY inside (one round trip, lowest latency), and so does every enqueue on a
 * caller's connection (`db`), where only the caller's COMMIT may wake workers.
 *
 * The enqueue's promise resolves once its wake-up is sent. A wake-up that fails to send is dropped:
 * notifications are hints, and the workers' poll finds the job (`pollIntervalMs`).
 *
 * ```ts
 * const wakes = new EnqueueWakes(pool, names)
 * if (wakes.begin()) { const { id, queue } = await insertQuietly(); await wakes.send(queue, id) }
 * wakes.end()
 * ```
 */
export class EnqueueWakes {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  #inFlight = 0
  /** Queue → the smallest job id committed for it since the last send (the wake-up's ticket). */
  #pending = new Map<string, bigint>()
  /** The next send, collecting this turn's wake-ups. */
  #sending: Promise<void> | undefined
  /** The send whose statement is running. */
  #sent: Promise<void> | undefined

  constructor(pool: pg.Pool, names: SchemaNames) {
    this.#pool = pool
    this.#names = names
  }

  /** An enqueue starts; true when another is in flight, so this one should leave its wake-up here. */
  begin(): boolean {
    this.#inFlight += 1
    return this.#inFlight > 1
  }

  /** The enqueue that called {@link begin} is over (committed or failed). */
  end(): void {
    this.#inFlight -= 1
  }

  /** Sends the wake-up of a committed job (folded with the others of this turn); resolves once sent. */
  send(queue: string, id: string): Promise<void> {
    const ticket = BigInt(id)
    const earlier = this.#pending.get(queue)
    if (earlier === undefined || ticket < earlier) this.#pending.set(queue, ticket)
    this.#sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush())
    return this.#sending
  }

  /** Waits for the wake-ups not yet sent, and for the send in flight (on close). */
  async settled(): Promise<void> {
    while (this.#sending || this.#sent) await (this.#sending ?? this.#sent)
  }

  async #flush(): Promise<void> {
    const payloads = [...this.#pending].map(([queue, ticket]) =>
      formatQueueWake({ queue, ticket: Number(ticket) }),
    )
    this.#pending.clear()
    this.#sending = undefined
    const sent = notifyMany(this.#pool, this.#names.jobsChannel, payloads).catch(() => {
      // a hint: the workers' poll finds the jobs
    })
    this.#sent = sent
    await sent
    if (this.#sent === sent) this.#sent = undefined
  }
}
