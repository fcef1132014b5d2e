import { hasTracerProvider, loadOtelApi } from './otel-api.js'
import { fromCarrier, type TraceCarrier } from './trace-context.js'

/**
 * @internal Runs `fn` (a handler in a thread or child process) with the attempt's run span as the
 * active parent, so spans the handler starts join the job's trace. It takes effect only where that
 * thread or process has `@opentelemetry/api` with a tracer provider and a context manager of its
 * own (an SDK started by the task's module); otherwise `fn` just runs.
 */
export async function withRemoteParent<R>(carrier: TraceCarrier | undefined, fn: () => R): Promise<R> {
  if (!carrier) return fn()
  const api = await loadOtelApi()
  if (!api || !hasTracerProvider(api)) return fn()
  const parent = fromCarrier(api, carrier)
  if (!parent) return fn()
  return api.context.with(api.trace.setSpanContext(api.context.active(), parent), fn)
}
