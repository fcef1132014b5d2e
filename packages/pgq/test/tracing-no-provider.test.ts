// With `@opentelemetry/api` installed but no tracer provider registered (the API's no-op default),
// pgq traces nothing: jobs run, nothing is stored in meta.trace. A provider registered later is
// picked up by the same client without restarting it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { registerContextManager, registerTestSdk, type TestSdk } from './otel-sdk.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let sdk: TestSdk | undefined
const workers: Worker[] = []
const noop = defineTask({ name: 'noop', handler: async () => 'done' })

beforeAll(async () => {
  registerContextManager() // a context manager alone is not a provider
  t = await createTestSchema()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
})
afterAll(async () => {
  await t.drop()
  await sdk?.shutdown()
})

async function row(id: string) {
  return (await t.pool.query(`SELECT state, meta FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
}

describe('tracing without a tracer provider', () => {
  it('runs jobs and writes no meta.trace', async () => {
    const { id } = await t.pgq.enqueue(noop, {})
    const [many] = await t.pgq.enqueueMany([{ task: noop, payload: {} }])
    expect((await row(id)).meta).toEqual({})
    expect((await row(many!.id)).meta).toEqual({})
    const worker = t.pgq.createWorker({ tasks: [noop], pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    await waitFor(async () => (await row(id)).state === 'succeeded', 10_000, 'job run')
    await waitFor(async () => (await row(many!.id)).state === 'succeeded', 10_000, 'second job run')
  })

  it('starts tracing once a provider is registered, on the same client', async () => {
    sdk = registerTestSdk()
    const { id } = await t.pgq.enqueue(noop, {})
    expect((await row(id)).meta.trace.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    expect(sdk.spans('pgq.enqueue noop')).toHaveLength(1)
  })
})
