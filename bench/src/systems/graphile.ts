import {
  type AddJobsJobSpec,
  Logger,
  makeWorkerUtils,
  type RunnerOptions,
  run,
  type WorkerUtils,
} from 'graphile-worker'
import { ident } from '../sql-names.js'
import type {
  BenchEnv,
  BenchPayload,
  BenchSystem,
  RunningWorker,
  StartWorkerOptions,
  WorkerProfile,
} from '../types.js'

const TASK = 'bench_noop'
const silent = new Logger(() => () => {})

/** The batching preset graphile-worker documents for high throughput. */
const BATCHING = { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }

/** Runner options per profile (on top of connection, schema, task list and a silent logger). */
const PROFILES: Record<WorkerProfile, (concurrency: number) => Partial<RunnerOptions>> = {
  defaults: () => ({ concurrency: 10 }),
  best: () => ({ concurrency: 24, preset: BATCHING }),
  io: (concurrency) => ({ concurrency, maxPoolSize: 20, preset: BATCHING }),
  latency: () => ({ concurrency: 10 }),
}

/** graphile-worker: `addJobs` for bulk, `addJob` for single jobs, `run()` to process. */
export class GraphileSystem implements BenchSystem {
  readonly name = 'graphile-worker'
  readonly version: string
  readonly settings = {
    defaults: 'concurrency 10 (library default 1), everything else default (LISTEN on, 2 s poll)',
    best: 'concurrency 24, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0',
    io: 'concurrency 200, maxPoolSize 20, localQueue.size 500, completeJobBatchDelay 0',
    latency: 'as defaults (LISTEN/NOTIFY wake-up)',
  } as const
  readonly #env: BenchEnv
  readonly #schema: string
  #utils: WorkerUtils | undefined

  constructor(env: BenchEnv, version: string) {
    this.#env = env
    this.version = version
    this.#schema = `bench_graphile${env.suffix}`
  }

  get #u(): WorkerUtils {
    if (!this.#utils) throw new Error('graphile-worker: setup() first')
    return this.#utils
  }

  async setup(): Promise<void> {
    this.#utils = await makeWorkerUtils({
      connectionString: this.#env.databaseUrl,
      schema: this.#schema,
      logger: silent,
      maxPoolSize: 4,
    })
    await this.#utils.migrate()
  }

  async reset(): Promise<void> {
    const s = ident(this.#schema)
    await this.#u.withPgClient((client) =>
      client.query(`TRUNCATE ${s}._private_jobs, ${s}._private_job_queues`),
    )
  }

  async outstanding(): Promise<number> {
    const s = ident(this.#schema)
    const { rows } = await this.#u.withPgClient((client) =>
      client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}._private_jobs`),
    )
    return rows[0]!.n
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    const specs: AddJobsJobSpec[] = payloads.map((payload) => ({ identifier: TASK, payload }))
    await this.#u.addJobs(specs)
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.#u.addJob(TASK, payload)
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const runner = await run({
      connectionString: this.#env.databaseUrl,
      schema: this.#schema,
      logger: silent,
      noHandleSignals: true,
      taskList: {
        [TASK]: async (payload) => {
          await options.handler(payload as BenchPayload)
        },
      },
      ...PROFILES[options.profile](options.concurrency),
    })
    return { stop: () => runner.stop() }
  }

  async close(): Promise<void> {
    await this.#utils?.release()
  }
}
