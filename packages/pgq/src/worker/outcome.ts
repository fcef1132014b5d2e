import type { RunSpanOutcome } from '../tracing/run-span.js'
import type { JobInfo, WorkerEvents } from './events.js'

/**
 * @internal How a run ended, as the executor decides it — before the database has confirmed it.
 * The completer turns it into a row of the finalize statement; the worker announces it (events,
 * logs) only once that write went through.
 *
 * ```ts
 * const outcome: JobOutcome = { kind: 'succeeded', result: '{"ok":true}', retentionMs: 86_400_000, durationMs: 12 }
 * ```
 */
export type JobOutcome =
  | {
      readonly kind: 'succeeded'
      /** The handler's return value as JSON text, or null for none. */
      readonly result: string | null
      /** Retention of the finished row (null: forever; 0: delete at once). */
      readonly retentionMs: number | null
      readonly durationMs: number
      /** Already written: `ctx.transaction` committed it with the handler's writes. */
      readonly committed?: true
    }
  | {
      /** The attempt failed and the job runs again after `delayMs`. */
      readonly kind: 'retry'
      readonly error: Error
      /** The error entry appended to the job's `errors`, as JSON text. */
      readonly errorJson: string
      readonly delayMs: number
    }
  | {
      /** The handler asked to run again later without spending an attempt. */
      readonly kind: 'snoozed'
      readonly delayMs: number
    }
  | {
      readonly kind: 'failed'
      readonly error: Error
      readonly errorJson: string
      readonly retentionMs: number | null
      /** Park the failed job in this queue (the task's dead-letter queue), or null. */
      readonly deadLetterQueue: string | null
    }
  | {
      readonly kind: 'cancelled'
      readonly errorJson: string
      readonly retentionMs: number | null
    }

/**
 * @internal Emits the event of an outcome the database accepted. `state` is what was written: a
 * retry or snooze requested while a cancel was pending was written `cancelled`. `durationMs` is the
 * handler's run time (a succeeded outcome carries its own).
 */
export function announceOutcome(
  events: WorkerEvents,
  job: JobInfo,
  outcome: JobOutcome,
  state: 'succeeded' | 'failed' | 'cancelled' | 'available',
  durationMs: number,
): void {
  if (state === 'cancelled' || outcome.kind === 'cancelled') {
    events.emit('job:cancelled', { job, durationMs })
    return
  }
  switch (outcome.kind) {
    case 'succeeded':
      events.emit('job:succeeded', { job, durationMs: outcome.durationMs })
      break
    case 'retry':
      events.emit('job:retry', { job, error: outcome.error, delayMs: outcome.delayMs, durationMs })
      break
    case 'snoozed':
      events.emit('job:snoozed', { job, delayMs: outcome.delayMs, durationMs })
      break
    case 'failed':
      events.emit('job:failed', { job, error: outcome.error, durationMs })
      break
  }
}

/**
 * @internal What a run span says of an outcome once the completer answered: `pgq.outcome`, and the
 * error to record when the attempt failed (retried or failed for good).
 */
export function spanOutcome(
  outcome: JobOutcome,
  written: 'succeeded' | 'failed' | 'cancelled' | 'available' | 'fenced' | 'abandoned',
): [RunSpanOutcome, Error?] {
  if (written === 'fenced') return ['lease-lost']
  const error = outcome.kind === 'retry' || outcome.kind === 'failed' ? outcome.error : undefined
  if (written === 'abandoned') return error ? ['abandoned', error] : ['abandoned']
  if (written === 'cancelled' || outcome.kind === 'cancelled') return ['cancelled']
  return error ? [outcome.kind, error] : [outcome.kind]
}
