import { type ConstructorOptions, PgBoss, type WorkOptions } from 'pg-boss'
import type {
  BenchEnv,
  BenchPayload,
  BenchSystem,
  RunningWorker,
  StartWorkerOptions,
  WorkerProfile,
} from '../types.js'

const QUEUE = 'bench_noop'

interface Profile {
  readonly boss: Partial<ConstructorOptions>
  readonly work: WorkOptions
}

/** Constructor and `work()` options per profile. */
const PROFILES: Record<WorkerProfile, (concurrency: number) => Profile> = {
  defaults: () => ({ boss: {}, work: {} }),
  // two local workers: one leaves pg-boss waiting on its own fetch round trip (about 30 % slower here)
  best: () => ({
    boss: { useListenNotify: true },
    work: { batchSize: 500, localConcurrency: 2, burstWhenBatchFull: true },
  }),
  io: (concurrency) => ({
    boss: { useListenNotify: true },
    work: { batchSize: Math.ceil(concurrency / 2), localConcurrency: 2, burstWhenBatchFull: true },
  }),
  latency: () => ({ boss: { useListenNotify: true }, work: {} }),
}

/** pg-boss: `insert` for bulk, `send` for single jobs, `work()` to process. */
export class PgBossSystem implements BenchSystem {
  readonly name = 'pg-boss'
  readonly version: string
  readonly settings = {
    defaults: 'work(name, handler) — batchSize 1, 2 s polling, no LISTEN',
    best: 'batchSize 500 × localConcurrency 2, burstWhenBatchFull, useListenNotify',
    io: 'batchSize 100 × localConcurrency 2, burstWhenBatchFull, useListenNotify',
    latency: 'useListenNotify (queue created with notify: true), batchSize 1',
  } as const
  readonly #env: BenchEnv
  readonly #schema: string
  readonly #boss: PgBoss

  constructor(env: BenchEnv, version: string) {
    this.#env = env
    this.version = version
    this.#schema = `bench_pgboss${env.suffix}`
    this.#boss = new PgBoss({ ...this.#base(), max: 4, supervise: false, schedule: false })
    this.#boss.on('error', () => {})
  }

  #base(): ConstructorOptions {
    return { connectionString: this.#env.databaseUrl, schema: this.#schema }
  }

  async setup(): Promise<void> {
    await this.#boss.start()
    // notify: true so that LISTEN-enabled workers are woken; it is on for every profile's enqueues.
    if (!(await this.#boss.getQueue(QUEUE))) await this.#boss.createQueue(QUEUE, { notify: true })
  }

  /** `deleteAllJobs()` without a queue name is a TRUNCATE of pg-boss's job table, as the others get. */
  async reset(): Promise<void> {
    await this.#boss.deleteAllJobs()
  }

  async outstanding(): Promise<number> {
    const rows = (await this.#boss
      .getDb()
      .executeSql(
        `SELECT count(*)::int AS n FROM ${this.#schema}.job WHERE state IN ('created', 'retry', 'active')`,
      )) as { rows: { n: number }[] }
    return rows.rows[0]!.n
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.#boss.insert(
      QUEUE,
      payloads.map((data) => ({ data })),
    )
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.#boss.send(QUEUE, payload)
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const profile = PROFILES[options.profile](options.concurrency)
    const boss = new PgBoss({ ...this.#base(), ...profile.boss })
    boss.on('error', () => {})
    await boss.start()
    await boss.work<BenchPayload>(QUEUE, profile.work, async (jobs) => {
      await Promise.all(jobs.map((job) => options.handler(job.data)))
    })
    return { stop: () => boss.stop({ graceful: true, timeout: 5_000 }) }
  }

  async close(): Promise<void> {
    await this.#boss.stop({ graceful: false, timeout: 1_000 })
  }
}
