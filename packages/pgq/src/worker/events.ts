import { EventEmitter } from 'node:events'
import type { LeaseLostReason } from './lease-renewer.js'

/** What events say about a job (never its payload). */
export interface JobInfo {
  readonly id: string
  readonly task: string
  readonly queue: string
  /** 1-based attempt number of this run. */
  readonly attempt: number
  readonly maxAttempts: number
}

/**
 * The events a worker emits. Hook them for metrics, logs or tests:
 *
 * ```ts
 * worker.on('job:failed', ({ job, error }) => metrics.increment('jobs.failed', { task: job.task }))
 * ```
 */
export interface WorkerEventMap {
  /** The handler is about to run. `waitMs`: time from when the job was due (`run_at`) to its claim. */
  'job:start': { job: JobInfo; waitMs: number }
  /**
   * The handler returned or threw (or was given up at its hard limit): its slot is free now and
   * the next job may start. The outcome is not written yet — an outcome event follows once it is.
   * `job:start` and `job:end` bracket the handler, so counting between them measures concurrency.
   */
  'job:end': { job: JobInfo; durationMs: number }
  /**
   * The job's success is written. This and the other outcome events (`job:retry`, `job:failed`,
   * `job:cancelled`, `job:snoozed`) fire only once the database accepted the outcome; an outcome
   * it refused (the lease was lost) gives `job:lease-lost` instead.
   */
  'job:succeeded': { job: JobInfo; durationMs: number }
  /** The handler reported progress (emitted for every report; the database write is throttled). */
  'job:progress': { job: JobInfo; value: number | null }
  /** The attempt failed and the job will run again after `delayMs`. */
  'job:retry': { job: JobInfo; error: Error; delayMs: number; durationMs: number }
  /** The job failed for good (attempts exhausted, or a non-retryable error). */
  'job:failed': { job: JobInfo; error: Error; durationMs: number }
  /** `durationMs`: how long the handler ran (the outcome events all carry it). */
  'job:cancelled': { job: JobInfo; durationMs: number }
  'job:snoozed': { job: JobInfo; delayMs: number; durationMs: number }
  /** The soft (`hard: false`) or hard (`hard: true`) time limit passed. */
  'job:timeout': { job: JobInfo; hard: boolean }
  /**
   * This worker no longer holds the job (its lease expired and the job was rescued or taken over):
   * its handler was aborted and nothing it did is written. `reason` says how the loss was found.
   */
  'job:lease-lost': { job: JobInfo; reason: LeaseLostReason }
  /** Released on shutdown without spending an attempt; another worker takes it at once. */
  'job:released': { job: JobInfo }
  'listener:connected': Record<string, never>
  'listener:disconnected': { error: Error | undefined }
  /** Jobs of dead workers returned to their queues (or failed after too many interruptions). */
  'maintenance:rescued': { requeued: number; failed: number }
  /**
   * Waiting jobs whose deadline (`expires_at`) passed before they started were ended `expired` by
   * this worker's expirer (one event per batch): `expired` in all, `byQueue` per queue.
   */
  'maintenance:expired': { expired: number; byQueue: Readonly<Record<string, number>> }
  /**
   * An error in a background loop; the loop goes on, retrying with backoff. Emitted for every
   * error, while the log gets at most a few lines per outage.
   */
  'worker:error': { component: string; error: Error }
  /** The database answered again after errors that lasted `outageMs`; every loop resumes at once. */
  'worker:recovered': { outageMs: number }
  'worker:started': { workerId: string }
  'worker:stopped': { workerId: string }
}

/** A typed `EventEmitter` for {@link WorkerEventMap}. */
export class WorkerEvents extends EventEmitter {
  override on<K extends keyof WorkerEventMap>(event: K, listener: (event: WorkerEventMap[K]) => void): this {
    return super.on(event, listener)
  }

  override once<K extends keyof WorkerEventMap>(
    event: K,
    listener: (event: WorkerEventMap[K]) => void,
  ): this {
    return super.once(event, listener)
  }

  override off<K extends keyof WorkerEventMap>(event: K, listener: (event: WorkerEventMap[K]) => void): this {
    return super.off(event, listener)
  }

  override emit<K extends keyof WorkerEventMap>(event: K, payload: WorkerEventMap[K]): boolean {
    try {
      return super.emit(event, payload)
    } catch {
      // a throwing user listener must not break the worker
      return true
    }
  }
}
