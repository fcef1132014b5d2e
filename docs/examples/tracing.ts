// Samples of docs/observability.md, "Tracing (OpenTelemetry)".
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base'
import { createPgq, defineTask } from '@pgq/core'
import { mailer, pool } from './stubs.js'

export function setUpTracing() {
  // #region setup
  // tracing.ts, imported first by the web app and by the worker process (or: the NodeSDK of
  // @opentelemetry/sdk-node with an OTLP exporter, which registers the same two things)
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())],
  })
  trace.setGlobalTracerProvider(provider) // pgq traces from here on
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()) // parents follow async calls
  // #endregion setup
}

// #region handler-spans
const tracer = trace.getTracer('my-app')

export const sendWelcome = defineTask({
  name: 'send_welcome',
  queue: 'emails',
  // runs inside the job's `pgq.run send_welcome` span: spans started here are its children
  handler: async (payload: { to: string }, ctx) =>
    tracer.startActiveSpan('render and send', async (span) => {
      try {
        return await mailer.send(payload.to, { signal: ctx.signal })
      } finally {
        span.end()
      }
    }),
})
// #endregion handler-spans

const pgq = createPgq({ pool })

export async function signUp(email: string) {
  // #region request
  // in a request handler: the HTTP server's instrumentation made the request's span active
  await tracer.startActiveSpan('POST /signup', async (span) => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('INSERT INTO users (email) VALUES ($1)', [email])
      // a `pgq.enqueue send_welcome` span, child of the request's; its context goes in meta.trace
      await pgq.enqueue(sendWelcome, { to: email }, { db: client })
      await client.query('COMMIT')
    } finally {
      client.release()
      span.end()
    }
  })
  // #endregion request
}

export function untraced() {
  // #region disable
  // no spans and no meta.trace from this client, even with a tracer provider registered
  const quiet = createPgq({ pool, tracing: false })
  // #endregion disable
  return quiet
}
