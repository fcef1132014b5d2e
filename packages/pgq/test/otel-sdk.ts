// A real OpenTelemetry SDK for the tracing tests: a BasicTracerProvider whose spans go to an
// in-memory exporter, and the AsyncLocalStorage context manager, registered globally as an
// application would (NodeSDK does the same).
import { context, type SpanContext, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'

export interface TestSdk {
  readonly exporter: InMemorySpanExporter
  /** Finished spans named `name`, in the order they ended. */
  spans(name: string): ReadableSpan[]
  /** Unregisters the provider and the context manager. */
  shutdown(): Promise<void>
}

export function registerContextManager(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
}

export function registerTestSdk(): TestSdk {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  trace.setGlobalTracerProvider(provider)
  registerContextManager()
  return {
    exporter,
    spans: (name) => exporter.getFinishedSpans().filter((span) => span.name === name),
    async shutdown() {
      await provider.shutdown()
      trace.disable()
      context.disable()
    },
  }
}

/** The span id of a span's parent, or undefined for a root span. */
export function parentOf(span: ReadableSpan): SpanContext | undefined {
  return span.parentSpanContext
}
