import type { SystemName } from './systems/index.js'

/** Sizes and repetitions of one benchmark run. */
export interface SuiteConfig {
  readonly mode: 'full' | 'quick' | 'smoke'
  /** Each measurement is repeated this many times per system, systems interleaved. */
  readonly reps: number
  readonly bulk: { readonly count: number; readonly chunk: number }
  readonly single: { readonly count: number }
  /** Concurrent producers, each awaiting one single enqueue at a time: jobs per run (all producers). */
  readonly producers: { readonly producers: number; readonly count: number }
  readonly drain: { readonly count: number; readonly timeoutMs: number }
  /**
   * The flow-control drains (limits set but not binding, and their references): longer than
   * `drain`, so that what a worker pays once per connection (the first call of `claim_limited()`
   * compiles it and plans its statement, 5-10 ms) does not weigh on a run of under a second.
   */
  readonly limits: { readonly count: number; readonly timeoutMs: number }
  readonly latency: { readonly count: number; readonly gapMs: number }
  readonly io: {
    readonly count: number
    readonly concurrency: number
    readonly handlerMs: number
    readonly timeoutMs: number
  }
  readonly backlog: {
    readonly small: number
    readonly large: number
    /** Jobs processed (and timed) from each backlog. */
    readonly target: number
    readonly systems: readonly SystemName[]
  }
  readonly rss: { readonly jobs: number; readonly timeoutMs: number; readonly systems: readonly SystemName[] }
  readonly notifyRtt: { readonly count: number; readonly gapMs: number }
  /** Worker processes side by side on one queue (defaults each): jobs, and the process counts. */
  readonly scale: {
    readonly jobs: number
    readonly processes: readonly ScaleProcesses[]
    readonly timeoutMs: number
    readonly systems: readonly SystemName[]
  }
  /** The workflow row (pgq): a group of `count` members + chord callback, beside `count` plain jobs. */
  readonly fanIn: { readonly count: number; readonly timeoutMs: number }
}

/** The process counts the multi-process measurement knows (one metric each). */
export type ScaleProcesses = 1 | 2 | 4 | 8

/** The full run: the sizes issue 7 asks for (about 15 minutes on 2 cores). */
export const FULL: SuiteConfig = {
  mode: 'full',
  reps: 3,
  bulk: { count: 20_000, chunk: 5_000 },
  single: { count: 5_000 },
  producers: { producers: 32, count: 10_000 },
  drain: { count: 20_000, timeoutMs: 20_000 },
  limits: { count: 60_000, timeoutMs: 30_000 },
  latency: { count: 300, gapMs: 10 },
  io: { count: 10_000, concurrency: 200, handlerMs: 20, timeoutMs: 30_000 },
  backlog: { small: 10_000, large: 1_000_000, target: 10_000, systems: ['pgq', 'raw-sql'] },
  rss: {
    jobs: 200_000,
    timeoutMs: 300_000,
    systems: ['pgq', 'graphile-worker', 'pg-boss', 'bullmq', 'raw-sql'],
  },
  notifyRtt: { count: 300, gapMs: 10 },
  scale: { jobs: 60_000, processes: [1, 2, 4, 8], timeoutMs: 60_000, systems: ['pgq', 'graphile-worker'] },
  fanIn: { count: 10_000, timeoutMs: 120_000 },
}

/** `--quick`: the same measurements, smaller, under 2 minutes. */
export const QUICK: SuiteConfig = {
  mode: 'quick',
  reps: 2,
  bulk: { count: 5_000, chunk: 5_000 },
  single: { count: 500 },
  producers: { producers: 32, count: 4_000 },
  drain: { count: 4_000, timeoutMs: 3_000 },
  limits: { count: 4_000, timeoutMs: 3_000 },
  latency: { count: 50, gapMs: 10 },
  io: { count: 2_000, concurrency: 200, handlerMs: 20, timeoutMs: 10_000 },
  backlog: { small: 2_000, large: 50_000, target: 2_000, systems: ['pgq', 'raw-sql'] },
  rss: { jobs: 20_000, timeoutMs: 60_000, systems: ['pgq', 'raw-sql'] },
  notifyRtt: { count: 60, gapMs: 10 },
  scale: { jobs: 20_000, processes: [1, 4], timeoutMs: 30_000, systems: ['pgq'] },
  fanIn: { count: 10_000, timeoutMs: 120_000 },
}

/** The CI smoke: a few hundred jobs, no child processes. */
export const SMOKE: SuiteConfig = {
  mode: 'smoke',
  reps: 1,
  bulk: { count: 300, chunk: 300 },
  single: { count: 50 },
  producers: { producers: 32, count: 320 },
  drain: { count: 300, timeoutMs: 5_000 },
  limits: { count: 300, timeoutMs: 5_000 },
  latency: { count: 10, gapMs: 10 },
  io: { count: 400, concurrency: 200, handlerMs: 5, timeoutMs: 5_000 },
  backlog: { small: 300, large: 3_000, target: 300, systems: ['pgq', 'raw-sql'] },
  rss: { jobs: 0, timeoutMs: 0, systems: [] },
  notifyRtt: { count: 10, gapMs: 5 },
  scale: { jobs: 0, processes: [], timeoutMs: 0, systems: [] },
  fanIn: { count: 200, timeoutMs: 20_000 },
}
