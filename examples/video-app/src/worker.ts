// The worker side: which queues run with how many jobs at once, and the periodic clean-up.
import { defineSchedule, type Logger, type Pgq, type ScheduleDefinition, type Worker } from '@pgq/core'
import type { VideoTasks } from './tasks.js'

/**
 * Jobs at once per queue: few heavy video jobs (CPU-bound; think `--concurrency=4`), many quick
 * e-mails (`-c 100`). Separate queues keep a video backlog from delaying password-reset e-mails.
 */
export const QUEUES = Object.freeze({ heavy_compute: 2, high_priority: 10, default: 5 })

/** Options of {@link cleanupSchedule}. */
export interface CleanupScheduleOptions {
  /** Cron expression, 5 fields or 6 with seconds (default hourly: `0 * * * *`). */
  readonly cron?: string
  /** Temp files older than this are deleted (default 3,600 s). */
  readonly olderThanSeconds?: number
}

/**
 * The periodic clean-up, declared in code like Celery's `beat_schedule`; the worker upserts it into
 * `pgq.schedules` on start, and exactly one job is enqueued per tick however many workers run.
 *
 * ```ts
 * const worker = createVideoWorker(pgq, tasks, { schedules: [cleanupSchedule(tasks, { cron: '0 3 * * *' })] })
 * ```
 */
export function cleanupSchedule(tasks: VideoTasks, options: CleanupScheduleOptions = {}): ScheduleDefinition {
  return defineSchedule({
    name: 'cleanup-temp-files',
    cron: options.cron ?? '0 * * * *',
    task: tasks.cleanupTempFiles,
    payload: { olderThanSeconds: options.olderThanSeconds ?? 3600 },
  })
}

/** Options of {@link createVideoWorker}. */
export interface VideoWorkerOptions {
  readonly schedules?: readonly ScheduleDefinition[]
  readonly logger?: Logger
  /** Poll fallback in ms (default pgq's 1,000; NOTIFY wakes the worker sooner). */
  readonly pollIntervalMs?: number
}

/**
 * A worker for every task of the example, on {@link QUEUES}, with the clean-up schedule.
 *
 * ```ts
 * const worker = createVideoWorker(pgq, tasks)
 * await worker.start()
 * // …
 * await worker.stop()
 * ```
 */
export function createVideoWorker(pgq: Pgq, tasks: VideoTasks, options: VideoWorkerOptions = {}): Worker {
  return pgq.createWorker({
    tasks: Object.values(tasks),
    queues: QUEUES,
    schedules: options.schedules ?? [cleanupSchedule(tasks)],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
  })
}
