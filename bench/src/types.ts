/** What every benchmarked job carries: its index and, for latency runs, when its enqueue call started. */
export interface BenchPayload {
  /** Index of the job in its run. */
  readonly i: number
  /** `performance.now()` at the start of the enqueue call (latency runs only). */
  readonly t?: number
}

/** The handler each system runs for every job; it gets the payload as enqueued. */
export type BenchHandler = (payload: BenchPayload) => Promise<void> | void

/**
 * Which settings a worker runs with:
 * - `defaults`: the library's own defaults (see each adapter for the one knob set, if any);
 * - `best`: the library's documented high-throughput settings;
 * - `io`: settings for 200 concurrent I/O-bound jobs;
 * - `latency`: settings for an idle worker woken per job (LISTEN/NOTIFY where the library has it).
 */
export type WorkerProfile = 'defaults' | 'best' | 'io' | 'latency'

/** Options of {@link BenchSystem.startWorker}. */
export interface StartWorkerOptions {
  readonly profile: WorkerProfile
  /** Jobs in flight at once for the `io` profile. */
  readonly concurrency: number
  readonly handler: BenchHandler
  /**
   * Every commit waits for its WAL flush (the peers' durability). Systems whose worker commits
   * synchronously anyway ignore it; pgq turns on its `synchronousCommit` option.
   */
  readonly synchronousCommit?: boolean
  /**
   * Succeeded jobs are not kept: pgq deletes them in the outcome statement (`deleteOnSuccess`). The
   * others ignore it; their rows are measured as they are (graphile-worker deletes completed jobs
   * anyway, as does the raw claim-then-delete drain).
   */
  readonly deleteOnSuccess?: boolean
}

/** A running worker; `stop()` ends it and releases its connections. */
export interface RunningWorker {
  stop(): Promise<void>
}

/** One queue system under test, adapted to the harness. */
export interface BenchSystem {
  /** Short id: `pgq`, `graphile-worker`, `pg-boss`, `bullmq`, `raw-sql`. */
  readonly name: string
  /** Package version, or a description for the raw-SQL system. */
  readonly version: string
  /** What each worker profile means for this system (shown in the report). */
  readonly settings: Readonly<Record<WorkerProfile, string>>
  /** Creates the system's schema/queue. Called once. */
  setup(): Promise<void>
  /** Deletes every job (tables truncated / Redis keys removed). Called before every run. */
  reset(): Promise<void>
  /** Enqueues jobs through the system's fastest bulk API. */
  enqueueBulk(payloads: readonly BenchPayload[]): Promise<void>
  /** Enqueues one job through the system's single-job API. */
  enqueueOne(payload: BenchPayload): Promise<void>
  /** Enqueues one job so that an idle worker wakes for it (defaults to `enqueueOne`). */
  enqueueWakeup?(payload: BenchPayload): Promise<void>
  /**
   * Jobs not yet finished in the system's own store (waiting or running). A drain's clock stops
   * when this reaches 0 — when the last outcome is committed — not when the last handler returns.
   */
  outstanding?(): Promise<number>
  /**
   * Jobs whose outcome is committed since the last reset, where the system can count them without
   * reading the whole backlog (a drain's clock polls it; `outstanding()` otherwise).
   */
  completed?(queued: number): Promise<number>
  /**
   * Like {@link reset}, and the job table is left without planner statistics (and autovacuum off
   * for it), as on a fresh install. Only systems that have it run the "fresh table" drain.
   */
  resetFresh?(): Promise<void>
  /** Quickly fills the queue with `count` no-op jobs (not measured); defaults to `enqueueBulk` chunks. */
  seed?(count: number): Promise<void>
  /** False while the system cannot run a worker yet (the report then says "not available"). */
  workerAvailable?(): boolean
  /**
   * The workflow row (pgq only): `count` plain jobs, or a `count`-member group with a chord
   * callback, created in one call and run to the end; jobs/s over the whole run.
   */
  fanIn?(
    count: number,
    shape: 'chord' | 'plain',
    timeoutMs: number,
  ): Promise<{ jobsPerSecond: number; createMs: number }>
  /**
   * Sets flow-control limits on the benchmark queue (null removes them); only systems with
   * cluster-wide limits implement it (docs/flow-control.md).
   */
  setLimits?(limits: BenchLimits | null): Promise<void>
  /**
   * Opens a pool of `connections` for concurrent producers that enqueue one job per call, in
   * `variant` (see {@link ProducerVariant}); only systems with the 32-producer rows implement it.
   */
  openProducers?(connections: number, variant: ProducerVariant): Promise<Producer>
  /** Starts one worker in this process. */
  startWorker(options: StartWorkerOptions): Promise<RunningWorker>
  /** Releases every connection the system holds. */
  close(): Promise<void>
}

/** Where the systems find their servers. */
export interface BenchEnv {
  readonly databaseUrl: string
  /** null when no Redis answered: BullMQ is skipped. */
  readonly redisUrl: string | null
  /** Suffix for schema / queue names, so concurrent runs (tests) don't collide. */
  readonly suffix: string
}

/**
 * Flow-control limits a drain runs under (set so high that they never bind). `keys`: the seeded jobs
 * carry that many distinct concurrency keys (round-robin), so per-key limits take the keyed claim.
 */
export interface BenchLimits {
  readonly concurrency?: number
  readonly rate?: string
  readonly keyConcurrency?: number
  readonly keyRate?: string
  readonly keys?: number
}

/**
 * How a producer enqueues one job in the 32-producer rows:
 * - `notify`: the system's single enqueue with its wake-up NOTIFY (pgq: `pgq.enqueue()`; raw SQL:
 *   the INSERT and `pg_notify` in one statement);
 * - `statement` (pgq): the statement `pgq.enqueue()` sends, taken from the library at run time and
 *   run prepared on the bench's pool — the control that the copy costs what the library call does;
 * - `noNotify`: the same without the NOTIFY (pgq: that statement with its `woken` step removed;
 *   raw SQL: the bare INSERT).
 */
export type ProducerVariant = 'notify' | 'statement' | 'noNotify'

/** A pool that enqueues one job per call (any number of calls at once, up to its connections). */
export interface Producer {
  enqueue(payload: BenchPayload): Promise<void>
  close(): Promise<void>
}
