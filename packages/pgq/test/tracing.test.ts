// OpenTelemetry tracing with a real SDK (in-memory exporter) and a real worker: one trace from the
// request that enqueued, through the enqueue span stored on the job, to each attempt's run span.
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgq } from '../src/client/pgq.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { tracedInThread } from './fixtures/traced-tasks.mjs'
import { registerTestSdk, type TestSdk } from './otel-sdk.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let sdk: TestSdk
const workers: Worker[] = []
const app = () => trace.getTracer('test-app')

beforeAll(async () => {
  sdk = registerTestSdk()
  t = await createTestSchema()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
  sdk.exporter.reset()
})
afterAll(async () => {
  await t.drop()
  await sdk.shutdown()
})

async function start(worker: Worker): Promise<Worker> {
  workers.push(worker)
  await worker.start()
  return worker
}

async function meta(id: string): Promise<Record<string, unknown>> {
  return (await t.pool.query(`SELECT meta FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0].meta
}

/** Runs `fn` inside an active span named "http request" and returns that span's ids. */
async function inRequest<R>(fn: () => Promise<R>): Promise<{ result: R; traceId: string; spanId: string }> {
  return app().startActiveSpan('http request', async (span) => {
    try {
      const result = await fn()
      return { result, ...span.spanContext() }
    } finally {
      span.end()
    }
  })
}

function waitForSpans(name: string, count: number): Promise<ReadableSpan[]> {
  return waitFor(
    () => {
      const spans = sdk.spans(name)
      return spans.length >= count ? spans : undefined
    },
    10_000,
    `${count} span(s) ${name}`,
  )
}

describe('tracing', () => {
  it('makes one trace: request → enqueue → run → a span the handler starts', async () => {
    const traced = defineTask({
      name: 'traced',
      queue: 'mail',
      handler: async () => {
        app().startSpan('inside handler').end()
        return 'ok'
      },
    })
    const request = await inRequest(() => t.pgq.enqueue(traced, { to: 'a@example.com' }))
    const jobId = request.result.id

    const [enqueue] = await waitForSpans('pgq.enqueue traced', 1)
    expect(enqueue!.kind).toBe(SpanKind.PRODUCER)
    expect(enqueue!.spanContext().traceId).toBe(request.traceId)
    expect(enqueue!.parentSpanContext?.spanId).toBe(request.spanId)
    expect(enqueue!.attributes).toMatchObject({
      'messaging.system': 'pgq',
      'messaging.destination.name': 'mail',
      'messaging.operation.type': 'send',
      'messaging.message.id': jobId,
      'pgq.task': 'traced',
      'pgq.enqueue.outcome': 'created',
    })
    const { spanId, traceFlags } = enqueue!.spanContext()
    expect((await meta(jobId)).trace).toEqual({
      traceparent: `00-${request.traceId}-${spanId}-0${traceFlags}`,
    })

    await start(t.pgq.createWorker({ tasks: [traced], queues: { mail: 1 }, pollIntervalMs: 100 }))
    const [run] = await waitForSpans('pgq.run traced', 1)
    expect(run!.kind).toBe(SpanKind.CONSUMER)
    expect(run!.spanContext().traceId).toBe(request.traceId)
    expect(run!.parentSpanContext?.spanId).toBe(spanId)
    expect(run!.parentSpanContext?.isRemote).toBe(true)
    expect(run!.attributes).toMatchObject({
      'messaging.system': 'pgq',
      'messaging.message.id': jobId,
      'pgq.task': 'traced',
      'pgq.queue': 'mail',
      'pgq.attempt': 1,
      'pgq.outcome': 'succeeded',
    })
    expect(run!.status.code).toBe(SpanStatusCode.UNSET)
    // the span ends after the outcome is written
    const state = (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [jobId])).rows[0]
    expect(state.state).toBe('succeeded')

    const [inside] = sdk.spans('inside handler')
    expect(inside!.spanContext().traceId).toBe(request.traceId)
    expect(inside!.parentSpanContext?.spanId).toBe(run!.spanContext().spanId)
  })

  it('gives each attempt its own run span; a failed attempt has status ERROR and its exception', async () => {
    const flaky = defineTask({
      name: 'flaky',
      retry: { baseDelayMs: 0, jitter: 0 },
      handler: async (_payload: unknown, ctx) => {
        if (ctx.attempt === 1) throw new Error('first attempt fails')
        return 'second time lucky'
      },
    })
    const request = await inRequest(() => t.pgq.enqueue(flaky, {}))
    await start(t.pgq.createWorker({ tasks: [flaky], pollIntervalMs: 100 }))
    const runs = await waitForSpans('pgq.run flaky', 2)
    const [first, second] = runs.sort(
      (a, b) => (a.attributes['pgq.attempt'] as number) - (b.attributes['pgq.attempt'] as number),
    )
    const [enqueue] = sdk.spans('pgq.enqueue flaky')
    for (const run of runs) {
      expect(run.spanContext().traceId).toBe(request.traceId)
      expect(run.parentSpanContext?.spanId).toBe(enqueue!.spanContext().spanId)
      expect(run.attributes['messaging.message.id']).toBe(request.result.id)
    }
    expect(first!.attributes).toMatchObject({ 'pgq.attempt': 1, 'pgq.outcome': 'retry' })
    expect(first!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'first attempt fails' })
    const exception = first!.events.find((event) => event.name === 'exception')
    expect(exception?.attributes?.['exception.message']).toBe('first attempt fails')
    expect(second!.attributes).toMatchObject({ 'pgq.attempt': 2, 'pgq.outcome': 'succeeded' })
    expect(second!.status.code).toBe(SpanStatusCode.UNSET)
  })

  it('marks a job failed for good as failed, and a cancelled one as cancelled', async () => {
    const broken = defineTask({
      name: 'broken',
      maxAttempts: 1,
      handler: async () => {
        throw new Error('no luck')
      },
    })
    const { id } = await t.pgq.enqueue(broken, {})
    await start(t.pgq.createWorker({ tasks: [broken], pollIntervalMs: 100 }))
    const [run] = await waitForSpans('pgq.run broken', 1)
    expect(run!.attributes).toMatchObject({ 'messaging.message.id': id, 'pgq.outcome': 'failed' })
    expect(run!.status.code).toBe(SpanStatusCode.ERROR)
    // enqueued outside any span: the enqueue span starts the trace, the run continues it
    const [enqueue] = sdk.spans('pgq.enqueue broken')
    expect(enqueue!.parentSpanContext).toBeUndefined()
    expect(run!.spanContext().traceId).toBe(enqueue!.spanContext().traceId)

    let started = false
    const waits = defineTask({
      name: 'waits',
      handler: (_payload: unknown, ctx) =>
        new Promise((_resolve, reject) => {
          started = true
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
        }),
    })
    const waiting = await t.pgq.enqueue(waits, {})
    await start(t.pgq.createWorker({ tasks: [waits], pollIntervalMs: 100 }))
    await waitFor(() => started, 10_000, 'handler started')
    await t.pgq.jobs.cancel(waiting.id)
    const [cancelled] = await waitForSpans('pgq.run waits', 1)
    expect(cancelled!.attributes).toMatchObject({
      'messaging.message.id': waiting.id,
      'pgq.outcome': 'cancelled',
    })
    expect(cancelled!.status.code).toBe(SpanStatusCode.UNSET)
  })

  it('traces enqueueMany as one span whose context every job stores', async () => {
    const bulk = defineTask({ name: 'bulk', handler: async () => null })
    const request = await inRequest(() =>
      t.pgq.enqueueMany([1, 2, 3].map((n) => ({ task: bulk, payload: { n } }))),
    )
    const [enqueue] = await waitForSpans('pgq.enqueue bulk', 1)
    expect(enqueue!.parentSpanContext?.spanId).toBe(request.spanId)
    expect(enqueue!.attributes).toMatchObject({
      'messaging.batch.message_count': 3,
      'pgq.task': 'bulk',
      'pgq.enqueue.created_count': 3,
    })
    const traceparents = await Promise.all(
      request.result.map(async (job) => ((await meta(job.id)).trace as { traceparent: string }).traceparent),
    )
    expect(new Set(traceparents)).toEqual(
      new Set([`00-${request.traceId}-${enqueue!.spanContext().spanId}-01`]),
    )
    await start(t.pgq.createWorker({ tasks: [bulk], pollIntervalMs: 100 }))
    const runs = await waitForSpans('pgq.run bulk', 3)
    expect(new Set(runs.map((run) => run.parentSpanContext?.spanId))).toEqual(
      new Set([enqueue!.spanContext().spanId]),
    )
  })

  it('continues a trace context written by SQL (enqueue_many with meta.trace)', async () => {
    const fromSql = defineTask({ name: 'from_sql', handler: async () => null })
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const traceparent = `00-${traceId}-00f067aa0ba902b7-01`
    const jobs = JSON.stringify([{ task: 'from_sql', meta: { trace: { traceparent, tracestate: 'app=1' } } }])
    const { rows } = await t.pool.query(`SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb)`, [jobs])
    await start(t.pgq.createWorker({ tasks: [fromSql], pollIntervalMs: 100 }))
    const [run] = await waitForSpans('pgq.run from_sql', 1)
    expect(run!.attributes['messaging.message.id']).toBe(rows[0].id)
    expect(run!.spanContext().traceId).toBe(traceId)
    expect(run!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7')
    expect(run!.spanContext().traceState?.get('app')).toBe('1')
  })

  it('starts a new trace for a job with no or a malformed stored context', async () => {
    const bare = defineTask({ name: 'bare', handler: async () => null })
    const jobs = JSON.stringify([
      { task: 'bare' },
      { task: 'bare', meta: { trace: { traceparent: 'not-a-traceparent' } } },
    ])
    await t.pool.query(`SELECT * FROM "${t.schema}".enqueue_many($1::jsonb)`, [jobs])
    await start(t.pgq.createWorker({ tasks: [bare], pollIntervalMs: 100 }))
    const runs = await waitForSpans('pgq.run bare', 2)
    for (const run of runs) {
      expect(run.parentSpanContext).toBeUndefined()
      expect(run.attributes['pgq.outcome']).toBe('succeeded')
    }
    expect(runs[0]!.spanContext().traceId).not.toBe(runs[1]!.spanContext().traceId)
  })

  it('keeps the first context on a deduplicated job, and stores the new one on a replaced job', async () => {
    const dedup = defineTask({ name: 'dedup', handler: async () => null })
    const first = await inRequest(() => t.pgq.enqueue(dedup, { v: 1 }, { dedupKey: 'k' }))
    const second = await inRequest(() => t.pgq.enqueue(dedup, { v: 2 }, { dedupKey: 'k' }))
    expect(second.result).toMatchObject({ id: first.result.id, outcome: 'deduplicated' })
    const spans = await waitForSpans('pgq.enqueue dedup', 2)
    expect(spans.map((span) => span.attributes['pgq.enqueue.outcome'])).toEqual(['created', 'deduplicated'])
    const stored = () => meta(first.result.id).then((m) => (m.trace as { traceparent: string }).traceparent)
    expect(await stored()).toContain(first.traceId)
    const third = await inRequest(() =>
      t.pgq.enqueue(dedup, { v: 3 }, { dedupKey: 'k', dedupMode: 'replace' }),
    )
    expect(third.result.outcome).toBe('replaced')
    expect(await stored()).toContain(third.traceId)
  })

  it('ends the enqueue span when the transaction that held the job rolls back', async () => {
    const rolledBack = defineTask({ name: 'rolled_back', handler: async () => null })
    const client = await t.client()
    await client.query('BEGIN')
    const { id } = await t.pgq.enqueue(rolledBack, {}, { db: client })
    await client.query('ROLLBACK')
    const [enqueue] = await waitForSpans('pgq.enqueue rolled_back', 1)
    expect(enqueue!.ended).toBe(true)
    expect(enqueue!.status.code).toBe(SpanStatusCode.UNSET)
    expect(enqueue!.attributes['messaging.message.id']).toBe(id)
    const { rowCount } = await t.pool.query(`SELECT 1 FROM "${t.schema}".jobs WHERE id = $1`, [id])
    expect(rowCount).toBe(0)
  })

  it('records an insert that fails on the enqueue span', async () => {
    const client = await t.client()
    await client.query('BEGIN')
    await client.query('SELECT 1/0').catch(() => {}) // the transaction is aborted now
    await expect(t.pgq.enqueue('anything', {}, { db: client })).rejects.toThrow(/aborted/)
    await client.query('ROLLBACK')
    const [enqueue] = await waitForSpans('pgq.enqueue anything', 1)
    expect(enqueue!.status.code).toBe(SpanStatusCode.ERROR)
    expect(enqueue!.events.some((event) => event.name === 'exception')).toBe(true)
  })

  it.each(['thread', 'process'] as const)(
    'continues the trace in a handler %s that has an SDK of its own',
    async (mode) => {
      const module = new URL('./fixtures/traced-tasks.mjs', import.meta.url).href
      const request = await inRequest(() => t.pgq.enqueue(tracedInThread, {}))
      await start(
        t.pgq.createWorker({ tasks: [tracedInThread], pollIntervalMs: 100, isolation: { mode, module } }),
      )
      const [run] = await waitForSpans('pgq.run traced_in_thread', 1)
      expect(run!.spanContext().traceId).toBe(request.traceId)
      const { rows } = await t.pool.query(`SELECT result FROM "${t.schema}".jobs WHERE id = $1`, [
        request.result.id,
      ])
      expect(rows[0].result).toEqual({ traceId: request.traceId, parentSpanId: run!.spanContext().spanId })
    },
  )

  it('does nothing with tracing: false, even with a provider registered', async () => {
    const quiet = defineTask({ name: 'quiet', handler: async () => null })
    const pgq = createPgq({ pool: t.pool, schema: t.schema, tracing: false })
    const { id } = await inRequest(() => pgq.enqueue(quiet, {})).then((r) => r.result)
    expect(await meta(id)).toEqual({})
    const worker = pgq.createWorker({ tasks: [quiet], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    await waitFor(
      async () =>
        (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0].state ===
        'succeeded',
      10_000,
      'job run',
    )
    await worker.stop()
    const names = sdk.exporter.getFinishedSpans().map((span) => span.name)
    expect(names).toEqual(['http request'])
    expect(() => createPgq({ pool: t.pool, tracing: 'yes' as never })).toThrow(/tracing: must be a boolean/)
  })
})
