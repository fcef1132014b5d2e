import { createPgq, defineTask, type Pgq, type WorkerOptions } from 'pgq'
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

const TASK = 'bench_noop'

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
  readonly name = 'pgq'
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

  async setLimits(limits: { readonly concurrency?: number; readonly rate?: string } | null): Promise<void> {
    if (limits) await this.#client.queues.set('default', limits)
    else await this.#client.pool.query(`DELETE FROM ${ident(this.#schema)}.queues`)
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    // A client of its own (default pool of 10), so the worker shares no connections with the enqueuing side.
    const client = createPgq({ connectionString: this.#env.databaseUrl, schema: this.#schema })
    if (!pgqWorkerAvailable(client)) {
      await client.close()
      throw new NotAvailableError('pgq.createWorker is not exported yet')
    }
    const task = defineTask({
      name: TASK,
      handler: async (payload: BenchPayload) => {
        await options.handler(payload)
      },
    })
    const worker = client.createWorker({ tasks: [task], ...PROFILES[options.profile](options.concurrency) })
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
