import pg from 'pg'
import { type AnyTaskDefinition, createPgq, defineTask, type Pgq } from 'pgq'
import { ident } from '../sql-names.js'
import type {
  BenchEnv,
  BenchPayload,
  BenchSystem,
  RunningWorker,
  StartWorkerOptions,
  WorkerProfile,
} from '../types.js'
import { NotAvailableError } from './not-available.js'

/** The slice of pgq's worker API the benchmark uses. */
interface PgqWorkerLike {
  start(): Promise<void>
  stop(): Promise<void>
}
interface PgqWorkerOptionsLike {
  readonly tasks: readonly AnyTaskDefinition[]
  readonly queues?: Readonly<Record<string, number>>
  readonly pollIntervalMs?: number
  readonly listen?: boolean
}
type CreateWorker = (options: PgqWorkerOptionsLike) => PgqWorkerLike

const TASK = 'bench_noop'

/** Worker options per profile; `defaults` passes nothing but the task. */
const PROFILES: Record<WorkerProfile, (concurrency: number) => Omit<PgqWorkerOptionsLike, 'tasks'>> = {
  defaults: () => ({}),
  best: () => ({ queues: { default: 50 } }),
  io: (concurrency) => ({ queues: { default: concurrency } }),
  latency: () => ({}),
}

/** Whether the installed pgq exports a worker yet (`pgq.createWorker`). */
export function pgqWorkerAvailable(client: Pgq): boolean {
  return typeof (client as unknown as { createWorker?: unknown }).createWorker === 'function'
}

/** pgq: `enqueueMany` for bulk, `enqueue` for single jobs, `createWorker` to process. */
export class PgqSystem implements BenchSystem {
  readonly name = 'pgq'
  readonly version: string
  readonly settings = {
    defaults: 'createWorker({ tasks }) — concurrency 10, LISTEN on, 1 s poll, maintenance on',
    best: 'queues: { default: 50 }',
    io: 'queues: { default: 200 }',
    latency: 'defaults (LISTEN/NOTIFY wake-up)',
  } as const
  readonly #env: BenchEnv
  readonly #schema: string
  readonly #client: Pgq

  constructor(env: BenchEnv, version: string) {
    this.#env = env
    this.version = version
    this.#schema = `bench_pgq${env.suffix}`
    this.#client = createPgq({ connectionString: env.databaseUrl, schema: this.#schema, poolSize: 4 })
  }

  async setup(): Promise<void> {
    await this.#client.migrate()
  }

  workerAvailable(): boolean {
    return pgqWorkerAvailable(this.#client)
  }

  async reset(): Promise<void> {
    await this.#client.pool.query(`TRUNCATE ${ident(this.#schema)}.jobs`)
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.#client.enqueueMany(payloads.map((payload) => ({ task: TASK, payload })))
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.#client.enqueue(TASK, payload)
  }

  async seed(count: number): Promise<void> {
    await this.#client.pool.query(
      `INSERT INTO ${ident(this.#schema)}.jobs (task, payload) SELECT $1, jsonb_build_object('i', g) FROM generate_series(0, $2::int - 1) g`,
      [TASK, count],
    )
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    // A client of its own, so the worker's connections are not shared with the enqueuing side.
    const pool = new pg.Pool({ connectionString: this.#env.databaseUrl, max: 10 })
    pool.on('error', () => {})
    const client = createPgq({ pool, schema: this.#schema })
    if (!pgqWorkerAvailable(client)) {
      await pool.end()
      throw new NotAvailableError('pgq.createWorker is not exported yet')
    }
    const task = defineTask({
      name: TASK,
      handler: async (payload: BenchPayload) => {
        await options.handler(payload)
      },
    })
    const createWorker = (client as unknown as { createWorker: CreateWorker }).createWorker.bind(client)
    const worker = createWorker({ tasks: [task], ...PROFILES[options.profile](options.concurrency) })
    await worker.start()
    return {
      async stop() {
        await worker.stop()
        await pool.end()
      },
    }
  }

  async close(): Promise<void> {
    await this.#client.close()
  }
}
