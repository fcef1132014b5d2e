import { assertName } from '../db/identifiers.js'
import { PgqValidationError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { toLogger } from '../logger-formats.js'
import type { ScheduleDefinition } from '../schedule/schedule-definition.js'
import type { AnyTaskDefinition } from '../task/task.js'
import { assertBoolean, assertInt, assertOptions, MAX_TIMER_MS, optionKeys } from '../util/validate.js'
import {
  type IsolationConfig,
  resolveIsolation,
  type WorkerIsolationOptions,
} from './isolation/isolation-config.js'

/** How long finished jobs stay in the table before the pruner deletes them, in ms (`null`: forever). */
export interface RetentionOptions {
  readonly succeeded?: number | null
  readonly failed?: number | null
  readonly cancelled?: number | null
  /** Jobs that reached their deadline (`expires_at`) before they started (default 7 days, as cancelled). */
  readonly expired?: number | null
}

/** Options of a worker; see `pgq.createWorker()`. Every field but `tasks` has a documented default. */
export interface WorkerOptions {
  /** The tasks this worker runs. It claims only jobs of these tasks. */
  readonly tasks: readonly AnyTaskDefinition[]
  /** Queues to work: a list (each with `concurrency`) or `{ queue: concurrency }`. Default: the tasks' queues. */
  readonly queues?: readonly string[] | Readonly<Record<string, number>>
  /** Jobs run at once per queue when `queues` is a list (default 10). */
  readonly concurrency?: number
  /** Poll interval, the fallback when no NOTIFY arrives (default 1,000 ms). */
  readonly pollIntervalMs?: number
  /** LISTEN for wake-ups (default true). `false` = poll only, for poolers that cannot LISTEN. */
  readonly listen?: boolean
  /** A direct connection string for LISTEN when the pool goes through a transaction pooler. */
  readonly listenConnectionString?: string
  /** Lease of a claimed job; renewed by the heartbeat while the handler runs (default 15,000 ms). */
  readonly leaseMs?: number
  /** Heartbeat period (default leaseMs / 3). */
  readonly heartbeatMs?: number
  /** How often expired leases are looked for (default 5,000 ms). */
  readonly rescueIntervalMs?: number
  /**
   * How often waiting jobs past their deadline (`expires_at`) are ended `expired` (default 1,000 ms):
   * one probe of a small partial index when none is due. Claims never start such a job in between;
   * the interval only bounds how late waiters and workflows learn of the expiry.
   */
  readonly expireIntervalMs?: number
  /** On stop, how long running jobs may finish before they are aborted and released (default 10,000 ms). */
  readonly shutdownGraceMs?: number
  /** Retention of finished jobs (defaults: succeeded 1 day, failed 14 days, cancelled and expired 7 days). */
  readonly retention?: RetentionOptions
  /** Errors kept per job, newest last (default 20). */
  readonly maxErrorsKept?: number
  /** Characters of a stack trace kept per error (default 4,000). */
  readonly maxStackChars?: number
  /** Run the rescuer, the expirer and the pruner in this worker (default true). */
  readonly maintenance?: boolean
  /**
   * Where the worker's log lines go (default: nowhere). pgq's {@link Logger}, e.g.
   * `createLineLogger('info')` or `createJsonLogger('info')`, or a pino logger as it is (it is
   * wrapped with `fromPino`, so the fields become properties of pino's JSON).
   */
  readonly logger?: Logger
  /**
   * Claim ahead what a queue is expected to start within this many ms at its current rate, so fast
   * jobs are claimed in large batches (default 50; 0 turns it off). Jobs that take longer than
   * this are never claimed ahead, so idle workers elsewhere are not starved of them.
   */
  readonly prefetchWindowMs?: number
  /**
   * Prepare the hot statements (claim, outcome) once per connection (default true). Turn off behind
   * PgBouncer in transaction mode older than 1.21 (no `max_prepared_statements`).
   */
  readonly preparedStatements?: boolean
  /**
   * Commit claims and outcomes with the server's `synchronous_commit` (true) instead of `off` for
   * those statements (default false). Off, a PostgreSQL crash can forget the last few hundred ms of
   * bookkeeping — the jobs concerned run again after their lease: at-least-once holds either way.
   * On, each claim and outcome batch waits for its WAL flush, as the peers do; see docs/workers.md.
   */
  readonly synchronousCommit?: boolean
  /** Run the periodic-schedule enqueuer in this worker (default true). */
  readonly scheduler?: boolean
  /** Schedules declared in code, upserted when the worker starts (see docs/periodic-jobs.md). */
  readonly schedules?: readonly ScheduleDefinition[]
  /** How often the pruner deletes finished jobs past retention (default 30,000 ms). */
  readonly pruneIntervalMs?: number
  /**
   * Where handlers run by default (`mode`, default `inline`), the module isolated tasks are loaded
   * from when they do not name one, memory cap and warm pool size; see docs/workers.md.
   */
  readonly isolation?: WorkerIsolationOptions
}

/** @internal */
export interface WorkerConfig {
  readonly tasks: ReadonlyMap<string, AnyTaskDefinition>
  readonly queues: ReadonlyMap<string, number>
  readonly pollIntervalMs: number
  readonly listen: boolean
  readonly listenConnectionString: string | undefined
  readonly leaseMs: number
  readonly heartbeatMs: number
  readonly rescueIntervalMs: number
  readonly expireIntervalMs: number
  readonly shutdownGraceMs: number
  readonly retention: Readonly<Required<RetentionOptions>>
  readonly maxErrorsKept: number
  readonly maxStackChars: number
  readonly maintenance: boolean
  readonly logger: Logger
  readonly preparedStatements: boolean
  readonly prefetchWindowMs: number
  readonly synchronousCommit: boolean
  /** Run the schedule enqueuer in this worker. */
  readonly scheduler: boolean
  /** Schedules declared in code, upserted by the scheduler on start. */
  readonly schedules: readonly ScheduleDefinition[] | undefined
  /** Pruner period in ms (undefined: the pruner's default). */
  readonly pruneIntervalMs: number | undefined
  readonly isolation: IsolationConfig
}

const DAY = 86_400_000
const KNOWN = optionKeys<WorkerOptions>({
  tasks: true,
  queues: true,
  concurrency: true,
  pollIntervalMs: true,
  listen: true,
  listenConnectionString: true,
  leaseMs: true,
  heartbeatMs: true,
  rescueIntervalMs: true,
  expireIntervalMs: true,
  shutdownGraceMs: true,
  retention: true,
  maxErrorsKept: true,
  maxStackChars: true,
  maintenance: true,
  logger: true,
  scheduler: true,
  preparedStatements: true,
  prefetchWindowMs: true,
  synchronousCommit: true,
  schedules: true,
  pruneIntervalMs: true,
  isolation: true,
})

/** @internal Validates and freezes worker options. */
export function resolveWorkerConfig(options: WorkerOptions): WorkerConfig {
  assertOptions(options, KNOWN, 'worker.')
  if (!Array.isArray(options.tasks) || options.tasks.length === 0) {
    throw new PgqValidationError('worker.tasks', 'must be a non-empty array of defineTask() results')
  }
  const tasks = new Map<string, AnyTaskDefinition>()
  for (const [i, task] of options.tasks.entries()) {
    if (typeof task?.name !== 'string' || typeof task.handler !== 'function') {
      throw new PgqValidationError(`worker.tasks[${i}]`, 'must be a defineTask() result')
    }
    if (tasks.has(task.name))
      throw new PgqValidationError(`worker.tasks[${i}]`, `duplicate task name "${task.name}"`)
    tasks.set(task.name, task)
  }
  const concurrency = assertInt(options.concurrency ?? 10, 'worker.concurrency', 1, 10_000)
  const queues = new Map<string, number>()
  const spec = options.queues ?? [...new Set([...tasks.values()].map((t) => t.queue))]
  if (Array.isArray(spec)) {
    if (spec.length === 0) throw new PgqValidationError('worker.queues', 'must name at least one queue')
    for (const [i, q] of spec.entries()) queues.set(assertName(q, `worker.queues[${i}]`), concurrency)
  } else {
    for (const [q, n] of Object.entries(spec as Record<string, number>)) {
      queues.set(assertName(q, 'worker.queues'), assertInt(n, `worker.queues.${q}`, 1, 10_000))
    }
    if (queues.size === 0) throw new PgqValidationError('worker.queues', 'must name at least one queue')
  }
  const leaseMs = assertInt(options.leaseMs ?? 15_000, 'worker.leaseMs', 200, MAX_TIMER_MS)
  const heartbeatMs = assertInt(
    options.heartbeatMs ?? Math.floor(leaseMs / 3),
    'worker.heartbeatMs',
    50,
    leaseMs - 1,
  )
  const retention = options.retention ?? {}
  const ret = (key: keyof RetentionOptions, fallback: number): number | null => {
    const value = retention[key]
    if (value === null) return null
    return assertInt(value ?? fallback, `worker.retention.${key}`, 0, Number.MAX_SAFE_INTEGER)
  }
  return Object.freeze({
    tasks,
    queues,
    pollIntervalMs: assertInt(options.pollIntervalMs ?? 1_000, 'worker.pollIntervalMs', 10, MAX_TIMER_MS),
    listen: options.listen ?? true,
    listenConnectionString: options.listenConnectionString,
    leaseMs,
    heartbeatMs,
    rescueIntervalMs: assertInt(
      options.rescueIntervalMs ?? 5_000,
      'worker.rescueIntervalMs',
      10,
      MAX_TIMER_MS,
    ),
    expireIntervalMs: assertInt(
      options.expireIntervalMs ?? 1_000,
      'worker.expireIntervalMs',
      10,
      MAX_TIMER_MS,
    ),
    shutdownGraceMs: assertInt(options.shutdownGraceMs ?? 10_000, 'worker.shutdownGraceMs', 0, MAX_TIMER_MS),
    retention: Object.freeze({
      succeeded: ret('succeeded', DAY),
      failed: ret('failed', 14 * DAY),
      cancelled: ret('cancelled', 7 * DAY),
      expired: ret('expired', 7 * DAY),
    }),
    maxErrorsKept: assertInt(options.maxErrorsKept ?? 20, 'worker.maxErrorsKept', 1, 1000),
    maxStackChars: assertInt(options.maxStackChars ?? 4_000, 'worker.maxStackChars', 0, 1_000_000),
    maintenance: options.maintenance ?? true,
    logger: options.logger ? toLogger(options.logger) : silentLogger,
    preparedStatements: options.preparedStatements ?? true,
    prefetchWindowMs: assertInt(options.prefetchWindowMs ?? 50, 'worker.prefetchWindowMs', 0, 10_000),
    synchronousCommit: assertBoolean(options.synchronousCommit ?? false, 'worker.synchronousCommit'),
    scheduler: options.scheduler !== false,
    schedules: options.schedules,
    pruneIntervalMs:
      options.pruneIntervalMs === undefined || options.pruneIntervalMs === 0
        ? undefined
        : assertInt(options.pruneIntervalMs, 'worker.pruneIntervalMs', 1, MAX_TIMER_MS),
    isolation: resolveIsolation(options.isolation, tasks),
  })
}
