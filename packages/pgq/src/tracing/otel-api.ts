// The part of `@opentelemetry/api` pgq uses, described structurally: pgq has no compile-time or
// run-time dependency on the package. It is an optional peer dependency, imported once, lazily,
// the first time tracing is asked for; absent, tracing stays off for good.

/** @internal Span kinds pgq starts (the API's `SpanKind` values). */
export const SPAN_KIND = Object.freeze({ CLIENT: 2, PRODUCER: 3, CONSUMER: 4 })
/** @internal The API's `SpanStatusCode.ERROR`. */
export const STATUS_ERROR = 2

/** @internal An opaque OpenTelemetry context. */
export type OtelContext = object

/** @internal What identifies a span across processes (W3C trace context fields). */
export interface OtelSpanContext {
  traceId: string
  spanId: string
  traceFlags: number
  isRemote?: boolean
  traceState?: { serialize(): string }
}

/** @internal The span methods pgq calls. */
export interface OtelSpan {
  spanContext(): OtelSpanContext
  setAttribute(key: string, value: string | number | boolean): unknown
  setStatus(status: { code: number; message?: string }): unknown
  recordException(exception: Error): unknown
  end(): void
}

/** @internal Options of `tracer.startSpan`. */
export interface OtelSpanOptions {
  kind?: number
  attributes?: Record<string, string | number | boolean>
}

/** @internal A tracer. */
export interface OtelTracer {
  startSpan(name: string, options?: OtelSpanOptions, context?: OtelContext): OtelSpan
}

/** @internal The module `@opentelemetry/api`, as far as pgq uses it. */
export interface OtelApi {
  readonly trace: {
    getTracer(name: string, version?: string): OtelTracer
    getTracerProvider(): object
    setSpan(context: OtelContext, span: OtelSpan): OtelContext
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext
  }
  readonly context: {
    active(): OtelContext
    with<R>(context: OtelContext, fn: () => R): R
  }
  readonly ROOT_CONTEXT: OtelContext
  readonly createTraceState?: (raw?: string) => { serialize(): string }
}

/** A specifier in a variable (and webpackIgnore): bundlers leave the optional import to run time. */
const OTEL_API: string = '@opentelemetry/api'

let loading: Promise<OtelApi | undefined> | undefined
let loaded: OtelApi | undefined | null = null

/**
 * @internal Imports `@opentelemetry/api` once per process; resolves `undefined` when it is not
 * installed (or is not the API). Later calls get the same promise.
 */
export function loadOtelApi(): Promise<OtelApi | undefined> {
  loading ??= import(/* webpackIgnore: true */ OTEL_API).then(
    (module: unknown) => {
      const api = asApi(module)
      loaded = api
      return api
    },
    () => {
      loaded = undefined
      return undefined
    },
  )
  return loading
}

/** @internal The API if its import has settled: the module, `undefined` (absent), or null (not yet). */
export function otelApiIfLoaded(): OtelApi | undefined | null {
  return loaded
}

function asApi(module: unknown): OtelApi | undefined {
  const m = module as Partial<OtelApi> & { default?: Partial<OtelApi> }
  const api = typeof m.trace?.getTracer === 'function' ? m : m.default
  if (typeof api?.trace?.getTracer !== 'function' || typeof api.context?.with !== 'function') return undefined
  return api as OtelApi
}

/**
 * @internal True when a real tracer provider is registered: the API's global provider is a proxy
 * whose delegate is the no-op provider until an SDK registers one. A provider that is not the
 * proxy (an API of another shape) counts as registered.
 */
export function hasTracerProvider(api: OtelApi): boolean {
  const provider = api.trace.getTracerProvider() as { getDelegate?: () => object }
  if (typeof provider.getDelegate !== 'function') return true
  return provider.getDelegate().constructor.name !== 'NoopTracerProvider'
}
