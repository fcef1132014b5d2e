// W3C Trace Context (https://www.w3.org/TR/trace-context/) as pgq stores it on a job, in
// `meta.trace`: `{ "traceparent": "00-<trace id>-<span id>-<flags>", "tracestate": "k=v,…" }`.
// Written and read here, by hand, so what is stored is W3C whatever propagator the app registered.
import type { OtelApi, OtelSpanContext } from './otel-api.js'

/**
 * The trace context stored on a job (`meta.trace`): the W3C `traceparent` of the span that
 * enqueued it and, when there is one, its `tracestate`.
 *
 * ```ts
 * const trace: TraceCarrier = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }
 * ```
 */
export interface TraceCarrier {
  readonly traceparent: string
  readonly tracestate?: string
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const INVALID_TRACE_ID = '0'.repeat(32)
const INVALID_SPAN_ID = '0'.repeat(16)
/** W3C caps tracestate at 32 members; 512 characters keeps a stored one small. */
const MAX_TRACESTATE_CHARS = 512

/** @internal The carrier of a span context, or undefined when the context is not valid. */
export function toCarrier(spanContext: OtelSpanContext): TraceCarrier | undefined {
  const { traceId, spanId, traceFlags } = spanContext
  if (!isValidIds(traceId, spanId)) return undefined
  const flags = (traceFlags & 0xff).toString(16).padStart(2, '0')
  const traceparent = `00-${traceId}-${spanId}-${flags}`
  const tracestate = spanContext.traceState?.serialize()
  return tracestate ? { traceparent, tracestate } : { traceparent }
}

/**
 * @internal The remote span context a carrier read from the database describes, or undefined when
 * it is missing or malformed (then the run span starts a trace of its own).
 */
export function fromCarrier(api: OtelApi, carrier: unknown): OtelSpanContext | undefined {
  if (carrier === null || typeof carrier !== 'object') return undefined
  const { traceparent, tracestate } = carrier as { traceparent?: unknown; tracestate?: unknown }
  if (typeof traceparent !== 'string') return undefined
  const match = TRACEPARENT.exec(traceparent)
  if (!match) return undefined
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string]
  if (!isValidIds(traceId, spanId)) return undefined
  const spanContext: OtelSpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
  }
  if (
    typeof tracestate === 'string' &&
    tracestate !== '' &&
    tracestate.length <= MAX_TRACESTATE_CHARS &&
    api.createTraceState
  ) {
    spanContext.traceState = api.createTraceState(tracestate)
  }
  return spanContext
}

function isValidIds(traceId: string, spanId: string): boolean {
  return (
    /^[0-9a-f]{32}$/.test(traceId) &&
    /^[0-9a-f]{16}$/.test(spanId) &&
    traceId !== INVALID_TRACE_ID &&
    spanId !== INVALID_SPAN_ID
  )
}
