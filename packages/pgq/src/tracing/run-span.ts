import type { OtelApi, OtelContext, OtelSpan, OtelTracer } from './otel-api.js'
import { SPAN_KIND, STATUS_ERROR } from './otel-api.js'
import { type TraceCarrier, toCarrier } from './trace-context.js'

/**
 * How an attempt ended, as its run span's `pgq.outcome` says: the five written outcomes, or
 * `lease-lost` (the lease was lost, nothing written), `released` (given back at shutdown, no
 * attempt charged), `abandoned` (the worker stopped before it could write the outcome).
 *
 * ```ts
 * const outcome: RunSpanOutcome = 'retry'
 * ```
 */
export type RunSpanOutcome =
  | 'succeeded'
  | 'failed'
  | 'retry'
  | 'cancelled'
  | 'snoozed'
  | 'lease-lost'
  | 'released'
  | 'abandoned'

/** @internal What a run span says about its job. */
export interface RunSpanJob {
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly attempt: number
  readonly maxAttempts: number
}

/**
 * @internal The span of one attempt, `pgq.run <task>` (kind CONSUMER): started when the worker
 * starts the job, active while the handler runs, ended once the outcome is known (written, or
 * dropped). Ends once; later calls do nothing.
 */
export class RunSpan {
  readonly #api: OtelApi
  readonly #span: OtelSpan
  readonly #context: OtelContext
  #ended = false

  constructor(api: OtelApi, tracer: OtelTracer, parent: OtelContext, job: RunSpanJob) {
    this.#api = api
    this.#span = tracer.startSpan(
      `pgq.run ${job.task}`,
      {
        kind: SPAN_KIND.CONSUMER,
        attributes: {
          'messaging.system': 'pgq',
          'messaging.destination.name': job.queue,
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'run',
          'messaging.message.id': job.id,
          'pgq.task': job.task,
          'pgq.queue': job.queue,
          'pgq.attempt': job.attempt,
          'pgq.max_attempts': job.maxAttempts,
        },
      },
      parent,
    )
    this.#context = api.trace.setSpan(parent, this.#span)
  }

  /** The span's W3C context, handed to a handler thread or process. */
  get carrier(): TraceCarrier | undefined {
    return toCarrier(this.#span.spanContext())
  }

  /** Runs `fn` with this span as the active context: spans the handler starts are its children. */
  activate<R>(fn: () => R): R {
    return this.#api.context.with(this.#context, fn)
  }

  /**
   * Ends the span with its outcome. `error` (a failed or retried attempt) is recorded as an
   * exception and sets status ERROR; `lease-lost` sets ERROR too (the attempt's work was dropped).
   */
  end(outcome: RunSpanOutcome, error?: Error): void {
    if (this.#ended) return
    this.#ended = true
    this.#span.setAttribute('pgq.outcome', outcome)
    if (error) {
      this.#span.recordException(error)
      this.#span.setStatus({ code: STATUS_ERROR, message: error.message })
    } else if (outcome === 'lease-lost') {
      this.#span.setStatus({ code: STATUS_ERROR, message: 'lease lost: the outcome was dropped' })
    }
    this.#span.end()
  }
}
