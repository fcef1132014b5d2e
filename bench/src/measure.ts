import type pg from 'pg'
import { type CostProfile, startCostProfile } from './profile.js'
import { sleep } from './sql-names.js'
import { ascending, percentile } from './stats.js'
import type { BenchPayload, BenchSystem, WorkerProfile } from './types.js'

/** Payloads `{ i }` for `count` jobs. */
export function payloads(count: number, offset = 0): BenchPayload[] {
  return Array.from({ length: count }, (_, k) => ({ i: offset + k }))
}

/** Fills the queue with `count` jobs: the system's fast seed, else bulk enqueue in chunks of 10,000. */
export async function fill(system: BenchSystem, count: number): Promise<void> {
  if (system.seed) return system.seed(count)
  for (let done = 0; done < count; done += 10_000) {
    await system.enqueueBulk(payloads(Math.min(10_000, count - done), done))
  }
}

/** Jobs/s of bulk enqueue: `count` jobs in calls of `chunk`. */
export async function measureBulkEnqueue(system: BenchSystem, count: number, chunk: number): Promise<number> {
  await system.reset()
  const all = payloads(count)
  const start = performance.now()
  for (let done = 0; done < count; done += chunk) await system.enqueueBulk(all.slice(done, done + chunk))
  return count / ((performance.now() - start) / 1000)
}

/** Jobs/s of single enqueue: one awaited call at a time. */
export async function measureSingleEnqueue(system: BenchSystem, count: number): Promise<number> {
  await system.reset()
  const start = performance.now()
  for (let i = 0; i < count; i++) await system.enqueueOne({ i })
  return count / ((performance.now() - start) / 1000)
}

/** Options of {@link measureDrain}. */
export interface DrainOptions {
  readonly profile: WorkerProfile
  /** Jobs in the queue before the worker starts. */
  readonly queued: number
  /** Jobs to process before the clock stops (≤ queued). */
  readonly target: number
  /** Each handler awaits this long (0: no-op). */
  readonly handlerMs: number
  readonly concurrency: number
  readonly timeoutMs: number
  /** When given, the cost of the drain is profiled on this pool's database. */
  readonly profilePool?: pg.Pool
  /** Start from a job table without planner statistics ({@link BenchSystem.resetFresh}). */
  readonly fresh?: boolean
  /** The worker commits synchronously ({@link StartWorkerOptions.synchronousCommit}). */
  readonly synchronousCommit?: boolean
  /** Succeeded jobs are deleted at once ({@link StartWorkerOptions.deleteOnSuccess}). */
  readonly deleteOnSuccess?: boolean
}

/** The outcome of one drain. */
export interface DrainResult {
  /** Jobs/s from the first handler start to the target-th handler end. */
  readonly rate: number
  readonly processed: number
  readonly timedOut: boolean
  readonly cost?: CostProfile
}

/**
 * Jobs with a committed outcome since the last reset, of `queued`: `completed()` where the system
 * counts them cheaply, else what `outstanding()` leaves.
 */
export async function committedOutcomes(system: BenchSystem, queued: number): Promise<number> {
  return system.completed ? system.completed(queued) : queued - (await system.outstanding!())
}

/**
 * When at least `target` jobs have their outcome committed (polled; gives up at `deadline`), and
 * how many then. The time is taken before the poll's statement: its snapshot shows what was
 * committed by then. A worker with a backlog larger than the target never idles, so waiting for
 * every handled job's outcome would rarely see the completer caught up; and counting what is left
 * of a 1,000,000-job backlog costs 40-80 ms a poll, so systems that can count their committed
 * outcomes cheaply do (`completed()`).
 */
async function settled(
  system: BenchSystem,
  deadline: number,
  queued: number,
  target: number,
): Promise<{ at: number; handled: number }> {
  for (;;) {
    const at = performance.now()
    const committed = await committedOutcomes(system, queued)
    if (committed >= target || performance.now() > deadline) return { at, handled: committed }
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Fills the queue, starts one worker and measures how fast it works through `target` jobs. */

export async function measureDrain(system: BenchSystem, options: DrainOptions): Promise<DrainResult> {
  await (options.fresh ? system.resetFresh!() : system.reset())
  await fill(system, options.queued)
  let first = 0
  let last = 0
  let processed = 0
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const handler = async () => {
    if (first === 0) first = performance.now()
    if (options.handlerMs > 0) await sleep(options.handlerMs)
    processed++
    if (processed === options.target) {
      last = performance.now()
      finish()
    }
  }
  const profiler = options.profilePool ? await startCostProfile(options.profilePool) : undefined
  const worker = await system.startWorker({
    profile: options.profile,
    concurrency: options.concurrency,
    handler,
    ...(options.synchronousCommit ? { synchronousCommit: true } : {}),
    ...(options.deleteOnSuccess ? { deleteOnSuccess: true } : {}),
  })
  const startedAt = performance.now()
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    finished.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), options.timeoutMs)
    }),
  ])
  clearTimeout(timer)
  // the target's last handler returned; the run is over once `target` outcomes are committed
  // (outcomes of jobs handled after it count too)
  let done = options.target
  if (!timedOut && (system.completed || system.outstanding)) {
    const end = await settled(system, startedAt + options.timeoutMs, options.queued, options.target)
    last = end.at
    done = end.handled
  }
  if (timedOut) {
    last = performance.now()
    done = processed
  }
  profiler?.pause()
  await worker.stop()
  // Too few jobs to divide by: the library's own background work would dominate.
  const cost = profiler && done >= 100 ? await profiler.finish(done) : undefined
  const begin = first || startedAt
  const rate = done / Math.max((last - begin) / 1000, 1e-9)
  return cost ? { rate, processed: done, timedOut, cost } : { rate, processed: done, timedOut }
}

/** Latency percentiles of one run, in ms. */
export interface LatencyResult {
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly received: number
  readonly sent: number
}

/** Idle worker; `count` jobs enqueued one at a time `gapMs` apart: enqueue-call start → handler start. */
export async function measureLatency(
  system: BenchSystem,
  count: number,
  gapMs: number,
): Promise<LatencyResult> {
  await system.reset()
  const latencies: number[] = []
  const worker = await system.startWorker({
    profile: 'latency',
    concurrency: 1,
    handler: (payload) => {
      if (payload.t !== undefined) latencies.push(performance.now() - payload.t)
    },
  })
  try {
    await sleep(500) // let the worker connect, LISTEN and go idle
    const enqueue = (system.enqueueWakeup ?? system.enqueueOne).bind(system)
    for (let i = 0; i < count; i++) {
      await enqueue({ i, t: performance.now() })
      await sleep(gapMs)
    }
    const deadline = performance.now() + 5_000
    while (latencies.length < count && performance.now() < deadline) await sleep(20)
  } finally {
    await worker.stop()
  }
  const sorted = ascending(latencies)
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    received: latencies.length,
    sent: count,
  }
}
