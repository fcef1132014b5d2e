// The W3C trace context pgq stores in meta.trace: written from a span context, read back into a
// remote one; anything malformed is ignored (the run span then starts a trace of its own).
import * as api from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import type { OtelApi } from '../src/tracing/otel-api.js'
import { fromCarrier, toCarrier } from '../src/tracing/trace-context.js'

const otel = api as unknown as OtelApi
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
const spanId = '00f067aa0ba902b7'

describe('trace context carrier', () => {
  it('writes traceparent and tracestate, and reads them back', () => {
    const traceState = api.createTraceState('vendor=abc,other=1')
    const carrier = toCarrier({ traceId, spanId, traceFlags: 1, traceState })
    expect(carrier).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=abc,other=1' })
    const back = fromCarrier(otel, carrier)
    expect(back).toMatchObject({ traceId, spanId, traceFlags: 1, isRemote: true })
    expect(back?.traceState?.serialize()).toBe('vendor=abc,other=1')
    expect(toCarrier({ traceId, spanId, traceFlags: 0 })).toEqual({
      traceparent: `00-${traceId}-${spanId}-00`,
    })
  })

  it('writes nothing for an invalid span context (the no-op tracer’s)', () => {
    expect(toCarrier(api.INVALID_SPAN_CONTEXT)).toBeUndefined()
  })

  it('ignores what is not a W3C traceparent', () => {
    for (const carrier of [
      null,
      'text',
      42,
      {},
      { traceparent: 7 },
      { traceparent: `01-${traceId}-${spanId}-01` },
      { traceparent: `00-${traceId.toUpperCase()}-${spanId}-01` },
      { traceparent: `00-${'0'.repeat(32)}-${spanId}-01` },
      { traceparent: `00-${traceId}-${'0'.repeat(16)}-01` },
      { traceparent: `00-${traceId}-${spanId}-01-extra` },
    ]) {
      expect(fromCarrier(otel, carrier)).toBeUndefined()
    }
    // an oversized tracestate is dropped, the parent kept
    const long = fromCarrier(otel, {
      traceparent: `00-${traceId}-${spanId}-01`,
      tracestate: 'a=1,'.repeat(200),
    })
    expect(long).toMatchObject({ traceId, spanId })
    expect(long?.traceState).toBeUndefined()
  })
})
