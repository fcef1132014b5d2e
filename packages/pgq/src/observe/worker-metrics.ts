import { Counter, Gauge, Histogram, type Registry, register } from 'prom-client'
import { PgqValidationError } from '../errors.js'
import type { JobInfo, WorkerEventMap } from '../worker/events.js'
import type { Worker } from '../worker/worker.js'
import { sharedMetric } from './registry.js'

/**
 * Buckets of the run-time histogram, in seconds (10 ms … 30 min).
 *
 * ```ts
 * const longest = RUN_SECONDS_BUCKETS.at(-1) // 1800: runs beyond 30 min land in +Inf
 * ```
 */
export const RUN_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800,
])
/**
 * Buckets of the wait-time histogram, in seconds (10 ms … 1 h).
 *
 * ```ts
 * const underASecond = WAIT_SECONDS_BUCKETS.filter((le) => le <= 1)
 * ```
 */
export const WAIT_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600,
])

/**
 * Options of {@link collectWorkerMetrics}.
 *
 * ```ts
 * collectWorkerMetrics(worker, { registry: new Registry() })
 * ```
 */
export interface WorkerMetricsOptions {
  /** Where the metrics are registered (default: prom-client's global `register`). */
  readonly registry?: Registry
}

/**
 * How a written outcome is labelled in `pgq_jobs_completed_total` and `pgq_job_run_seconds`.
 *
 * ```ts
 * const alerting: CompletedOutcome[] = ['failed', 'retried']
 * ```
 */
export type CompletedOutcome = 'succeeded' | 'failed' | 'retried' | 'cancelled' | 'snoozed'

type Listener<K extends keyof WorkerEventMap> = [K, (event: WorkerEventMap[K]) => void]

/**
 * Counts what a worker does as Prometheus metrics, from its events: jobs started and completed by
 * outcome, run and wait times, running jobs, lease losses, rescues, expiries and background errors (see
 * docs/observability.md for the list). Any number of workers may report to one registry; their
 * series add up. Returns a function that detaches the worker (the series stay).
 *
 * ```ts
 * import { Registry } from 'prom-client'
 * import { collectWorkerMetrics, collectQueueMetrics, metricsHandler } from '@pgq/core/metrics'
 *
 * const registry = new Registry()
 * collectWorkerMetrics(worker, { registry })
 * collectQueueMetrics(pgq, { registry })
 * http.createServer(metricsHandler(registry)).listen(9464)
 * ```
 */
export function collectWorkerMetrics(worker: Worker, options: WorkerMetricsOptions = {}): () => void {
  if (typeof worker?.on !== 'function') throw new PgqValidationError('worker', 'must be a pgq worker', worker)
  const registry = options.registry ?? register
  const jobLabels = ['queue', 'task'] as const
  const started = sharedMetric(registry, Counter, {
    name: 'pgq_jobs_started_total',
    help: 'Job attempts whose handler this process started.',
    labelNames: jobLabels,
  })
  const completed = sharedMetric(registry, Counter, {
    name: 'pgq_jobs_completed_total',
    help: 'Job attempts whose outcome this process wrote, by outcome (succeeded, failed, retried, cancelled, snoozed).',
    labelNames: [...jobLabels, 'outcome'],
  })
  const runSeconds = sharedMetric(registry, Histogram, {
    name: 'pgq_job_run_seconds',
    help: 'Run time of a job attempt (its handler), by outcome.',
    labelNames: [...jobLabels, 'outcome'],
    buckets: [...RUN_SECONDS_BUCKETS],
  })
  const waitSeconds = sharedMetric(registry, Histogram, {
    name: 'pgq_job_wait_seconds',
    help: 'Time from when a job was due (run_at) to its claim by this process.',
    labelNames: jobLabels,
    buckets: [...WAIT_SECONDS_BUCKETS],
  })
  const leaseLost = sharedMetric(registry, Counter, {
    name: 'pgq_lease_lost_total',
    help: 'Jobs this process lost the lease of (their outcome here was dropped), by how the loss was found.',
    labelNames: [...jobLabels, 'reason'],
  })
  const rescued = sharedMetric(registry, Counter, {
    name: 'pgq_jobs_rescued_total',
    help: "Jobs with an expired lease this process's rescuer brought back (requeued) or failed (too many interruptions).",
    labelNames: ['outcome'],
  })
  const expired = sharedMetric(registry, Counter, {
    name: 'pgq_jobs_expired_total',
    help: "Waiting jobs this process's expirer ended expired (their deadline passed before they started), by queue.",
    labelNames: ['queue'],
  })
  const errors = sharedMetric(registry, Counter, {
    name: 'pgq_worker_errors_total',
    help: 'Errors of background components (fetcher, heartbeat, completer, rescuer, …); each is retried.',
    labelNames: ['component'],
  })
  const running = sharedMetric(registry, Gauge, {
    name: 'pgq_jobs_running',
    help: 'Job handlers running in this process now.',
    labelNames: ['queue'],
  })
  const labels = (job: JobInfo) => ({ queue: job.queue, task: job.task })
  const done = (outcome: CompletedOutcome) => (e: { job: JobInfo; durationMs: number }) => {
    completed.inc({ ...labels(e.job), outcome })
    runSeconds.observe({ ...labels(e.job), outcome }, e.durationMs / 1000)
  }
  const listeners = [
    [
      'job:start',
      (e) => {
        started.inc(labels(e.job))
        waitSeconds.observe(labels(e.job), e.waitMs / 1000)
        running.inc({ queue: e.job.queue })
      },
    ] satisfies Listener<'job:start'>,
    ['job:end', (e) => running.dec({ queue: e.job.queue })] satisfies Listener<'job:end'>,
    ['job:succeeded', done('succeeded')] satisfies Listener<'job:succeeded'>,
    ['job:failed', done('failed')] satisfies Listener<'job:failed'>,
    ['job:retry', done('retried')] satisfies Listener<'job:retry'>,
    ['job:cancelled', done('cancelled')] satisfies Listener<'job:cancelled'>,
    ['job:snoozed', done('snoozed')] satisfies Listener<'job:snoozed'>,
    [
      'job:lease-lost',
      (e) => leaseLost.inc({ ...labels(e.job), reason: e.reason }),
    ] satisfies Listener<'job:lease-lost'>,
    [
      'maintenance:rescued',
      (e) => {
        if (e.requeued > 0) rescued.inc({ outcome: 'requeued' }, e.requeued)
        if (e.failed > 0) rescued.inc({ outcome: 'failed' }, e.failed)
      },
    ] satisfies Listener<'maintenance:rescued'>,
    [
      'maintenance:expired',
      (e) => {
        for (const [queue, n] of Object.entries(e.byQueue)) expired.inc({ queue }, n)
      },
    ] satisfies Listener<'maintenance:expired'>,
    ['worker:error', (e) => errors.inc({ component: e.component })] satisfies Listener<'worker:error'>,
  ] as Listener<keyof WorkerEventMap>[]
  for (const [event, listener] of listeners) worker.on(event, listener)
  return () => {
    for (const [event, listener] of listeners) worker.off(event, listener)
  }
}
