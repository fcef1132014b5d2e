import type { Logger, Worker } from '@pgq/core'

/**
 * One log line per job event a worker emits: id, task, attempt, timing and error message — never
 * the payload or the result. Shared by `pgq work` and `pgq dev`.
 */
export function logJobEvents(worker: Worker, logger: Logger, startLevel: 'debug' | 'info' = 'debug'): void {
  worker.on('job:start', ({ job }) =>
    logger[startLevel]('job started', { job: job.id, task: job.task, attempt: job.attempt }),
  )
  worker.on('job:succeeded', ({ job, durationMs }) =>
    logger.info('job succeeded', { job: job.id, task: job.task, ms: Math.round(durationMs) }),
  )
  worker.on('job:retry', ({ job, error, delayMs }) =>
    logger.warn('job failed, will retry', {
      job: job.id,
      task: job.task,
      attempt: job.attempt,
      retry_in_ms: delayMs,
      error: error.message,
    }),
  )
  worker.on('job:failed', ({ job, error }) =>
    logger.error('job failed', { job: job.id, task: job.task, attempt: job.attempt, error: error.message }),
  )
  worker.on('job:progress', ({ job, value }) =>
    logger.debug('job progress', { job: job.id, task: job.task, value }),
  )
  worker.on('job:cancelled', ({ job }) => logger.info('job cancelled', { job: job.id, task: job.task }))
  worker.on('job:released', ({ job }) =>
    logger.info('job released for another worker', { job: job.id, task: job.task }),
  )
  worker.on('job:lease-lost', ({ job, reason }) =>
    logger.warn('lease lost', { job: job.id, task: job.task, reason }),
  )
}
