import { type ConnectionOptions, Queue, Worker, type WorkerOptions } from 'bullmq'
import type {
  BenchEnv,
  BenchPayload,
  BenchSystem,
  RunningWorker,
  StartWorkerOptions,
  WorkerProfile,
} from '../types.js'

const JOB = 'bench_noop'
const PREFIX = 'pgqbench'

/** Worker options per profile (on top of the connection and prefix). */
const PROFILES: Record<WorkerProfile, (concurrency: number) => Partial<WorkerOptions>> = {
  // concurrency 10, as graphile-worker's and pgq's defaults run (BullMQ's own default is 1)
  defaults: () => ({ concurrency: 10 }),
  best: () => ({ concurrency: 50, removeOnComplete: { count: 0 } }),
  io: (concurrency) => ({ concurrency, removeOnComplete: { count: 0 } }),
  latency: () => ({}),
}

/** ioredis options from a `redis://[:password@]host:port[/db]` URL. */
export function redisConnection(url: string): ConnectionOptions {
  const parsed = new URL(url)
  const db = Number(parsed.pathname.slice(1) || '0')
  return {
    host: parsed.hostname,
    port: Number(parsed.port || '6379'),
    db,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    maxRetriesPerRequest: null,
  }
}

/** BullMQ on Redis: `addBulk` for bulk, `add` for single jobs, `new Worker()` to process. */
export class BullMqSystem implements BenchSystem {
  readonly name = 'bullmq'
  readonly version: string
  readonly settings = {
    defaults: 'new Worker(name, processor, { concurrency: 10 }) — completed jobs kept',
    best: 'concurrency 50, removeOnComplete { count: 0 }',
    io: 'concurrency 200, removeOnComplete { count: 0 }',
    latency: 'defaults (blocking BZPOPMIN wake-up)',
  } as const
  readonly #connection: ConnectionOptions
  readonly #name: string
  readonly #queue: Queue

  constructor(env: BenchEnv, version: string) {
    if (!env.redisUrl) throw new Error('bullmq needs REDIS_URL')
    this.version = version
    this.#connection = redisConnection(env.redisUrl)
    this.#name = `noop${env.suffix}`
    this.#queue = new Queue(this.#name, { connection: this.#connection, prefix: PREFIX })
    this.#queue.on('error', () => {})
  }

  async setup(): Promise<void> {
    await this.#queue.waitUntilReady()
  }

  async reset(): Promise<void> {
    await this.#queue.obliterate({ force: true })
  }

  async outstanding(): Promise<number> {
    const counts = await this.#queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')
    return Object.values(counts).reduce((sum, n) => sum + n, 0)
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.#queue.addBulk(payloads.map((data) => ({ name: JOB, data })))
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.#queue.add(JOB, payload)
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const worker = new Worker<BenchPayload>(
      this.#name,
      async (job) => {
        await options.handler(job.data)
      },
      { connection: this.#connection, prefix: PREFIX, ...PROFILES[options.profile](options.concurrency) },
    )
    worker.on('error', () => {})
    await worker.waitUntilReady()
    return { stop: () => worker.close() }
  }

  async close(): Promise<void> {
    await this.#queue.close()
  }
}
