// OpenTelemetry tracing of enqueue and runs (docs/observability.md "Tracing (OpenTelemetry)").
// On when `@opentelemetry/api` is installed and a tracer provider is registered, unless the client
// was created with `tracing: false`; otherwise every entry point returns undefined at once.
import {
  hasTracerProvider,
  loadOtelApi,
  type OtelApi,
  type OtelSpan,
  type OtelTracer,
  otelApiIfLoaded,
  SPAN_KIND,
  STATUS_ERROR,
} from './otel-api.js'
import { RunSpan, type RunSpanJob } from './run-span.js'
import { fromCarrier, type TraceCarrier, toCarrier } from './trace-context.js'

/** The instrumentation scope name of pgq's spans. */
export const TRACER_NAME = 'pgq'

/** @internal What an enqueue span needs to know about one job (validated fields). */
export interface EnqueueSpanJob {
  readonly task: string
  /** Undefined when the database picks it (the registered task's queue, else `default`). */
  readonly queue?: string
}

/** @internal What an enqueue span is told once the insert statement answered. */
export interface EnqueueSpanResult {
  readonly id: string
  readonly outcome: string
}

/**
 * @internal The open span of one `enqueue`/`enqueueMany` call: `carrier` goes into every job's
 * `meta.trace`; `end` or `fail` closes it once the insert statement answered.
 */
export interface EnqueueTrace {
  readonly carrier: TraceCarrier | undefined
  end(results: readonly EnqueueSpanResult[]): void
  fail(error: unknown): void
}

/**
 * @internal A client's tracing switch and its spans. One per `createPgq()`; its workers share it.
 * The API is imported lazily once per process, so pgq costs nothing where it is not installed.
 */
export class Tracing {
  readonly enabled: boolean

  constructor(enabled: boolean) {
    this.enabled = enabled
    if (enabled) void loadOtelApi()
  }

  /** True while the first import of the API has not settled yet (await {@link settled} then). */
  get loading(): boolean {
    return this.enabled && otelApiIfLoaded() === null
  }

  /** Resolves once the API's import has settled (at once after the first time). */
  async settled(): Promise<void> {
    if (this.enabled) await loadOtelApi()
  }

  /**
   * Starts the span of one enqueue call in the caller's active context: `pgq.enqueue <task>`
   * (kind PRODUCER, operation `send`). For several jobs it is one span for the batch, whose
   * context every job stores. Undefined when tracing is off.
   */
  startEnqueue(jobs: readonly EnqueueSpanJob[]): EnqueueTrace | undefined {
    const api = this.#api()
    if (!api || jobs.length === 0) return undefined
    const first = jobs[0] as EnqueueSpanJob
    const oneTask = jobs.every((job) => job.task === first.task)
    const oneQueue = jobs.every((job) => job.queue === first.queue)
    const attributes: Record<string, string | number | boolean> = {
      'messaging.system': 'pgq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'enqueue',
    }
    if (oneQueue && first.queue !== undefined) attributes['messaging.destination.name'] = first.queue
    if (oneTask) attributes['pgq.task'] = first.task
    if (jobs.length > 1) attributes['messaging.batch.message_count'] = jobs.length
    const name = oneTask ? `pgq.enqueue ${first.task}` : 'pgq.enqueue'
    const span = this.#tracerOf(api).startSpan(
      name,
      { kind: SPAN_KIND.PRODUCER, attributes },
      api.context.active(),
    )
    return new OpenEnqueue(span, toCarrier(span.spanContext()), jobs.length)
  }

  /**
   * Starts the span of one attempt, `pgq.run <task>` (kind CONSUMER), as a child of the context
   * stored on the job at enqueue (`meta.trace`), or as a new trace when it has none. Undefined
   * when tracing is off.
   */
  startRun(job: RunSpanJob, stored: unknown): RunSpan | undefined {
    const api = this.#api()
    if (!api) return undefined
    const remote = fromCarrier(api, stored)
    const parent = remote ? api.trace.setSpanContext(api.ROOT_CONTEXT, remote) : api.ROOT_CONTEXT
    return new RunSpan(api, this.#tracerOf(api), parent, job)
  }

  /** The API when tracing is on right now: enabled, installed, and a provider registered. */
  #api(): OtelApi | undefined {
    if (!this.enabled) return undefined
    const api = otelApiIfLoaded()
    return api && hasTracerProvider(api) ? api : undefined
  }

  /** Asked of the current provider each time (a lookup the SDK caches): providers can be replaced. */
  #tracerOf(api: OtelApi): OtelTracer {
    return api.trace.getTracer(TRACER_NAME)
  }
}

class OpenEnqueue implements EnqueueTrace {
  readonly #span: OtelSpan
  readonly carrier: TraceCarrier | undefined
  readonly #count: number

  constructor(span: OtelSpan, carrier: TraceCarrier | undefined, count: number) {
    this.#span = span
    this.carrier = carrier
    this.#count = count
  }

  end(results: readonly EnqueueSpanResult[]): void {
    if (this.#count === 1 && results[0]) {
      this.#span.setAttribute('messaging.message.id', results[0].id)
      this.#span.setAttribute('pgq.enqueue.outcome', results[0].outcome)
    } else {
      const created = results.filter((r) => r.outcome === 'created').length
      this.#span.setAttribute('pgq.enqueue.created_count', created)
    }
    this.#span.end()
  }

  fail(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error))
    this.#span.recordException(e)
    this.#span.setStatus({ code: STATUS_ERROR, message: e.message })
    this.#span.end()
  }
}
