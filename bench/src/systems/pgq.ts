import type { Pgq, WorkerOptions } from '@pgq/core'
import * as pgqLibrary from '@pgq/core'
import { producersUrl } from '../producers.js'
import { ident } from '../sql-names.js'
import type {
  BenchEnv,
  BenchLimits,
  BenchPayload,
  BenchSystem,
  Producer,
  ProducerVariant,
  RunningWorker,
  StartWorkerOptions,
  WorkerProfile,
} from '../types.js'
import { NotAvailableError } from './not-available.js'

const TASK = 'bench_noop'

/** What the adapter uses of a pgq build. */
export type PgqLibrary = Pick<typeof pgqLibrary, 'createPgq' | 'defineTask'>

/** Worker options per profile; `defaults` passes nothing but the task. */
const PROFILES: Record<WorkerProfile, (concurrency: number) => Omit<WorkerOptions, 'tasks'>> = {
  defaults: () => ({}),
  best: () => ({ queues: { default: 200 } }),
  io: (concurrency) => ({ queues: { default: concurrency } }),
  latency: () => ({}),
}

/** Whether the installed pgq has a worker (`pgq.createWorker`); the harness predates it. */
export function pgqWorkerAvailable(client: Pgq): boolean {
  return typeof (client as unknown as { createWorker?: unknown }).createWorker === 'function'
}

/** pgq: `enqueueMany` for bulk, `enqueue` for single jobs, `createWorker` to process. */
export class PgqSystem implements BenchSystem {
  readonly name: string
  readonly version: string
  readonly settings = {
    defaults: 'createWorker({ tasks }) — concurrency 10, LISTEN on, 1 s poll, maintenance on',
    best: 'queues: { default: 200 } (scanned 10–500; claim batch = free slots)',
    io: 'queues: { default: 200 }',
    latency: 'defaults (LISTEN/NOTIFY wake-up)',
  } as const
  readonly #env: BenchEnv
  readonly #schema: string
  readonly #client: Pgq
  readonly #lib: PgqLibrary
  /** Distinct concurrency keys the seeded jobs carry (0: none); see {@link BenchLimits}. */
  #keys = 0
  /** The migrated jobs table has `concurrency_key` (a pgq-base build may predate it). */
  #keyColumn = false
  /** The last worker started deletes succeeded jobs ({@link StartWorkerOptions.deleteOnSuccess}). */
  #deleting = false

  /**
   * @param lib the pgq build to measure: this workspace's by default; `pgq-base` passes another
   *   checkout's (`PGQ_BASELINE`), for a before/after of a change in one run.
   */
  constructor(env: BenchEnv, version: string, name = 'pgq', lib: PgqLibrary = pgqLibrary) {
    this.#env = env
    this.name = name
    this.version = version
    this.#lib = lib
    this.#schema = `bench_${name.replace(/\W/g, '_')}${env.suffix}`
    this.#client = lib.createPgq({ connectionString: env.databaseUrl, schema: this.#schema, poolSize: 4 })
  }

  async setup(): Promise<void> {
    await this.#client.migrate()
    const { rows } = await this.#client.pool.query(
      `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'jobs' AND column_name = 'concurrency_key'`,
      [this.#schema],
    )
    this.#keyColumn = rows.length > 0
  }

  workerAvailable(): boolean {
    return pgqWorkerAvailable(this.#client)
  }

  async reset(): Promise<void> {
    await this.#client.pool.query(`TRUNCATE ${ident(this.#schema)}.jobs`)
  }

  /** A new schema, migrated, its jobs table never analyzed (autovacuum off for it, so it stays so). */
  async resetFresh(): Promise<void> {
    await this.#client.pool.query(`DROP SCHEMA IF EXISTS ${ident(this.#schema)} CASCADE`)
    await this.#client.migrate()
    await this.#client.pool.query(`ALTER TABLE ${ident(this.#schema)}.jobs SET (autovacuum_enabled = false)`)
  }

  async outstanding(): Promise<number> {
    const { rows } = await this.#client.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${ident(this.#schema)}.jobs WHERE state IN ('available', 'running')`,
    )
    return rows[0]!.n
  }

  /**
   * Finished jobs: each has a retention (`delete_after`), read from its partial index. Jobs deleted
   * on success leave no row: those drains count what is not finished instead.
   */
  async completed(queued: number): Promise<number> {
    if (this.#deleting) return queued - (await this.outstanding())
    const { rows } = await this.#client.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${ident(this.#schema)}.jobs WHERE delete_after IS NOT NULL`,
    )
    return rows[0]!.n
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.#client.enqueueMany(payloads.map((payload) => ({ task: TASK, payload })))
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.#client.enqueue(TASK, payload)
  }

  async seed(count: number): Promise<void> {
    if (this.#keys > 0) {
      await this.#client.pool.query(
        `INSERT INTO ${ident(this.#schema)}.jobs (task, payload, concurrency_key)
         SELECT $1, jsonb_build_object('i', g), (g % $3)::text FROM generate_series(0, $2::int - 1) g`,
        [TASK, count, this.#keys],
      )
      return
    }
    await this.#client.pool.query(
      `INSERT INTO ${ident(this.#schema)}.jobs (task, payload) SELECT $1, jsonb_build_object('i', g) FROM generate_series(0, $2::int - 1) g`,
      [TASK, count],
    )
  }

  async fanIn(count: number, shape: 'chord' | 'plain', timeoutMs: number) {
    const { measurePgqFanIn } = await import('./pgq-fan-in.js')
    return measurePgqFanIn({
      databaseUrl: this.#env.databaseUrl,
      schema: this.#schema,
      count,
      shape,
      timeoutMs,
    })
  }

  async setLimits(limits: BenchLimits | null): Promise<void> {
    // a baseline build (pgq-base) older than flow control has no queues API
    if (!(this.#client as Partial<Pgq>).queues)
      throw new NotAvailableError('this pgq build has no flow control')
    const { keys, ...queueLimits } = limits ?? {}
    if ((queueLimits.keyConcurrency !== undefined || queueLimits.keyRate !== undefined) && !this.#keyColumn) {
      throw new NotAvailableError('this pgq build has no per-key limits')
    }
    this.#keys = keys ?? 0
    if (limits) await this.#client.queues.set('default', queueLimits)
    else await this.#client.pool.query(`DELETE FROM ${ident(this.#schema)}.queues`)
  }

  async openProducers(connections: number, variant: ProducerVariant): Promise<Producer> {
    const client = this.#lib.createPgq({
      connectionString: producersUrl(this.#env.databaseUrl),
      schema: this.#schema,
      poolSize: connections,
    })
    if (variant === 'notify') {
      return {
        enqueue: async (payload) => {
          await client.enqueue(TASK, payload)
        },
        close: () => client.close(),
      }
    }
    // The statement pgq.enqueue() sends, as the library builds it today: caught once through an
    // executor that records it (on a caller's executor pgq runs the same text, unnamed).
    const caught: Array<{ text: string; values: unknown[] }> = []
    const recorder = {
      query: (text: string, values: unknown[]) => {
        caught.push({ text, values })
        return client.pool.query(text, values)
      },
    }
    await client.enqueue(TASK, { i: -1 }, { db: recorder as unknown as pgqLibrary.Executor })
    if (caught.length !== 1) throw new Error(`pgq.enqueue() sent ${caught.length} statements, expected 1`)
    const { text, values } = caught[0]!
    const channel = values.length - 1
    let sql = text
    if (variant === 'noNotify') {
      // drop the `woken` CTE (its pg_notify) and its reference; the channel parameter goes with it
      const woken =
        /,\s*(?:--[^\n]*\n\s*)?woken AS \([\s\S]*?\)\s*SELECT j\.id::text AS id, j\.queue FROM j, woken$/
      if (!woken.test(text.trim()) || !text.includes(`pg_notify($${channel + 1}`)) {
        throw new Error('insertOneJob changed shape: update the bench copy without NOTIFY')
      }
      sql = text.trim().replace(woken, '\n     SELECT j.id::text AS id, j.queue FROM j')
    }
    const name = `bench_enqueue_${variant}`
    return {
      enqueue: async (payload) => {
        const params = [...values]
        params[1] = JSON.stringify(payload)
        await client.pool.query({
          name,
          text: sql,
          values: variant === 'noNotify' ? params.slice(0, channel) : params,
        })
      },
      close: () => client.close(),
    }
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    // A client of its own (default pool of 10), so the worker shares no connections with the enqueuing side.
    const client = this.#lib.createPgq({ connectionString: this.#env.databaseUrl, schema: this.#schema })
    if (!pgqWorkerAvailable(client)) {
      await client.close()
      throw new NotAvailableError('pgq.createWorker is not exported yet')
    }
    this.#deleting = options.deleteOnSuccess === true
    const task = this.#lib.defineTask({
      name: TASK,
      ...(this.#deleting ? { deleteOnSuccess: true } : {}),
      handler: async (payload: BenchPayload) => {
        await options.handler(payload)
      },
    })
    const worker = client.createWorker({
      tasks: [task],
      ...PROFILES[options.profile](options.concurrency),
      ...(options.synchronousCommit ? { synchronousCommit: true } : {}),
    })
    // Surface the worker's own errors: a stalled drain is easier to explain with them.
    worker.on('worker:error', ({ component, error }) => {
      process.stderr.write(`pgq worker:error ${component}: ${error.message}\n`)
    })
    await worker.start()
    return {
      async stop() {
        await worker.stop()
        await client.close()
      },
    }
  }

  async close(): Promise<void> {
    await this.#client.close()
  }
}
