import pg from 'pg'
import { producersUrl } from '../producers.js'
import { ident, sleep } from '../sql-names.js'
import type {
  BenchEnv,
  BenchPayload,
  BenchSystem,
  Producer,
  ProducerVariant,
  RunningWorker,
  StartWorkerOptions,
  WorkerProfile,
} from '../types.js'

/** Connections × batch size of the raw drain for each profile. */
const SHAPES: Record<WorkerProfile, { connections: number; batch: number }> = {
  defaults: { connections: 2, batch: 100 },
  best: { connections: 4, batch: 100 },
  io: { connections: 2, batch: 100 },
  latency: { connections: 1, batch: 100 },
}

/**
 * The physical ceiling: no library, a minimal table `q(id, payload)`, bulk `INSERT … unnest`,
 * single-row INSERT, and a drain by `DELETE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)
 * RETURNING` on a few connections, woken by LISTEN/NOTIFY when idle.
 */
export class RawSqlSystem implements BenchSystem {
  readonly name = 'raw-sql'
  readonly version = 'pg (node-postgres) + plain SQL'
  readonly settings = {
    defaults: 'DELETE … LIMIT 100 FOR UPDATE SKIP LOCKED RETURNING on 2 connections',
    best: 'the same on 4 connections',
    io: '2 connections × batch 100 (200 in flight)',
    latency: '1 connection, woken by LISTEN/NOTIFY, 50 ms poll fallback',
  } as const
  readonly #pool: pg.Pool
  readonly #url: string
  readonly #schema: string
  readonly #table: string
  readonly #channel: string
  /** Rows the drain's DELETEs removed since the last reset (each DELETE commits on its own). */
  #deleted = 0

  constructor(env: BenchEnv) {
    this.#url = env.databaseUrl
    this.#pool = new pg.Pool({ connectionString: env.databaseUrl, max: 4 })
    this.#pool.on('error', () => {})
    this.#schema = `bench_raw${env.suffix}`
    this.#table = `${ident(this.#schema)}.q`
    this.#channel = `bench_raw${env.suffix}`
  }

  async setup(): Promise<void> {
    await this.#pool.query(`CREATE SCHEMA IF NOT EXISTS ${ident(this.#schema)}`)
    await this.#pool.query(
      `CREATE TABLE IF NOT EXISTS ${this.#table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL)`,
    )
  }

  async reset(): Promise<void> {
    await this.#pool.query(`TRUNCATE ${this.#table}`)
    this.#deleted = 0
  }

  /** Jobs deleted by committed drain statements (the raw drain's outcome is its DELETE). */
  async completed(): Promise<number> {
    return this.#deleted
  }

  async outstanding(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.#table}`)
    return rows[0]!.n
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.#pool.query(`INSERT INTO ${this.#table} (payload) SELECT unnest($1::jsonb[])`, [
      payloads.map((p) => JSON.stringify(p)),
    ])
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.#pool.query(`INSERT INTO ${this.#table} (payload) VALUES ($1)`, [JSON.stringify(payload)])
  }

  async enqueueWakeup(payload: BenchPayload): Promise<void> {
    await this.#pool.query(
      `WITH j AS (INSERT INTO ${this.#table} (payload) VALUES ($1) RETURNING id) SELECT pg_notify($2, '') FROM j`,
      [JSON.stringify(payload), this.#channel],
    )
  }

  /** `notify`: INSERT and pg_notify in one statement (as {@link enqueueWakeup}); `noNotify`: the bare INSERT; both prepared. */
  async openProducers(connections: number, variant: ProducerVariant): Promise<Producer> {
    const pool = new pg.Pool({ connectionString: producersUrl(this.#url), max: connections })
    pool.on('error', () => {})
    const withNotify = variant !== 'noNotify'
    const text = withNotify
      ? `WITH j AS (INSERT INTO ${this.#table} (payload) VALUES ($1) RETURNING id) SELECT pg_notify($2, '') FROM j`
      : `INSERT INTO ${this.#table} (payload) VALUES ($1)`
    const name = withNotify ? 'bench_raw_insert_notify' : 'bench_raw_insert'
    return {
      enqueue: async (payload) => {
        const p = JSON.stringify(payload)
        await pool.query({ name, text, values: withNotify ? [p, this.#channel] : [p] })
      },
      close: () => pool.end(),
    }
  }

  async seed(count: number): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#table} (payload) SELECT jsonb_build_object('i', g) FROM generate_series(0, $1::int - 1) g`,
      [count],
    )
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const shape = SHAPES[options.profile]
    const batch = options.profile === 'io' ? Math.ceil(options.concurrency / shape.connections) : shape.batch
    const worker = new RawWorker(
      this.#url,
      this.#table,
      this.#channel,
      shape.connections,
      batch,
      options,
      (rows) => {
        this.#deleted += rows
      },
    )
    await worker.start()
    return worker
  }

  /** One NOTIFY → delivery round trip on an idle listener, in ms (no table involved). */
  async notifyRoundTrip(count: number, gapMs: number): Promise<number[]> {
    const listener = new pg.Client({ connectionString: this.#url })
    await listener.connect()
    const channel = `${this.#channel}_rtt`
    const times: number[] = []
    let pending: ((at: number) => void) | undefined
    listener.on('notification', () => pending?.(performance.now()))
    await listener.query(`LISTEN ${ident(channel)}`)
    try {
      for (let i = 0; i < count; i++) {
        const received = new Promise<number>((resolve) => {
          pending = resolve
        })
        const start = performance.now()
        await this.#pool.query('SELECT pg_notify($1, $2)', [channel, String(i)])
        times.push((await received) - start)
        await sleep(gapMs)
      }
    } finally {
      await listener.end()
    }
    return times
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}

/** The raw drain loops: one per connection, plus one LISTEN connection for wake-ups. */
class RawWorker implements RunningWorker {
  readonly #clients: pg.Client[] = []
  readonly #loops: Promise<void>[] = []
  readonly #waiters = new Set<() => void>()
  #stopped = false

  constructor(
    private readonly url: string,
    private readonly table: string,
    private readonly channel: string,
    private readonly connections: number,
    private readonly batch: number,
    private readonly options: StartWorkerOptions,
    /** Rows a committed DELETE removed. */
    private readonly onDeleted: (rows: number) => void,
  ) {}

  async start(): Promise<void> {
    const listener = await this.#connect()
    listener.on('notification', () => this.#wakeAll())
    await listener.query(`LISTEN ${ident(this.channel)}`)
    for (let i = 0; i < this.connections; i++) {
      const client = await this.#connect()
      this.#loops.push(this.#loop(client))
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url })
    client.on('error', () => {})
    await client.connect()
    this.#clients.push(client)
    return client
  }

  async #loop(client: pg.Client): Promise<void> {
    const sql = `DELETE FROM ${this.table} WHERE id IN (SELECT id FROM ${this.table} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING payload`
    while (!this.#stopped) {
      const { rows } = await client.query<{ payload: BenchPayload }>(sql, [this.batch])
      this.onDeleted(rows.length)
      if (rows.length === 0) {
        await this.#wait(50)
        continue
      }
      await Promise.all(rows.map((row) => this.options.handler(row.payload)))
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#waiters.add(done)
    })
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#wakeAll()
    await Promise.allSettled(this.#loops)
    await Promise.all(this.#clients.map((c) => c.end().catch(() => {})))
  }
}
