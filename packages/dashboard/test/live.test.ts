// The live feed over real HTTP: server-sent events fed by NOTIFY (awaited, never slept for), their
// coalescing, and the JSON endpoint the browser polls when SSE fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { markFailed, markRunning, markSucceeded, setProgress } from '../../pgq/test/worker-simulation.js'
import { type DashboardServer, nextEvent, startDashboard } from './dashboard-server.js'

/** What the feed's events carry (a `job`/`failure` row, or `counts`). */
interface LiveData {
  id: string
  task: string
  state: string
  progress: { value?: number } | null
  last_error: string | null
  queues: { queue: string; running: number; waiting: number }[]
  job: LiveData | null
}

let t: TestSchema
let server: DashboardServer

beforeAll(async () => {
  t = await createTestSchema()
  server = await startDashboard(t, { basePath: '/pgq' })
})
afterAll(async () => {
  await server.close()
  await t.drop()
})

async function openStream(query = '') {
  const controller = new AbortController()
  const response = await server.get(`/events${query}`, { signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/)
  const reader = response.body!.getReader()
  const buffer = { text: '' }
  return {
    next: (accept: (event: string, data: LiveData) => boolean) =>
      nextEvent(reader, buffer, accept as (event: string, data: unknown) => boolean) as Promise<{
        event: string
        data: LiveData
      }>,
    close: () => controller.abort(),
  }
}

describe('live updates', () => {
  it('streams the watched job finishing, its progress, and fresh counts', async () => {
    const { id } = await t.pgq.enqueue('render', { n: 1 }, { queue: 'video' })
    await markRunning(t, id)
    const stream = await openStream(`?job=${id}`)
    try {
      const first = await stream.next((event) => event === 'counts')
      expect(first.data.queues).toContainEqual(expect.objectContaining({ queue: 'video', running: 1 }))
      await stream.next((event, data) => event === 'job' && data.id === id && data.state === 'running')

      await setProgress(t, id, { value: 70, meta: null })
      await stream.next((event, data) => event === 'job' && data.progress?.value === 70)

      await markSucceeded(t, id, { ok: true })
      const done = await stream.next((event, data) => event === 'job' && data.state === 'succeeded')
      expect(done.data).toMatchObject({ id, task: 'render', queue: 'video', state: 'succeeded' })
      // the same update's counts: the queue has no live job left (a queue with only finished jobs
      // and no registered task, schedule or worker is not listed)
      const counts = await stream.next((event) => event === 'counts')
      expect(counts.data.queues.filter((q) => q.queue === 'video' && q.running > 0)).toEqual([])
    } finally {
      stream.close()
    }
  })

  it('announces new failures to every listener', async () => {
    const { id } = await t.pgq.enqueue('flaky', {}, { queue: 'video' })
    await markRunning(t, id)
    const stream = await openStream()
    try {
      await stream.next((event) => event === 'counts')
      await markFailed(t, id, ['disk <full>'])
      const failure = await stream.next((event) => event === 'failure')
      expect(failure.data).toMatchObject({ id, task: 'flaky', state: 'failed', last_error: 'disk <full>' })
    } finally {
      stream.close()
    }
  })

  it('misses nothing that happens once the stream is open (it listens before it answers)', async () => {
    const { id } = await t.pgq.enqueue('instant', {}, { queue: 'video' })
    await markRunning(t, id)
    // no other stream is open: this one starts the feed's subscriptions
    const stream = await openStream()
    try {
      await markFailed(t, id, ['failed at once']) // before reading anything from the stream
      const failure = await stream.next((event, data) => event === 'failure' && data.id === id)
      expect(failure.data).toMatchObject({ state: 'failed', last_error: 'failed at once' })
    } finally {
      stream.close()
    }
  }, 15_000)

  it('coalesces a burst of notifications into a few updates', async () => {
    const { id } = await t.pgq.enqueue('marker', {}, { queue: 'video' })
    await markRunning(t, id)
    const stream = await openStream(`?job=${id}`)
    try {
      await stream.next((event) => event === 'counts')
      await t.pool.query(`SELECT pg_notify($1, 'q' || i) FROM generate_series(1, 100) AS i`, [
        `${t.schema}:jobs`,
      ])
      await markSucceeded(t, id, null)
      let counts = 0
      await stream.next((event, data) => {
        if (event === 'counts') counts += 1
        return event === 'job' && data.state === 'succeeded'
      })
      expect(counts).toBeLessThanOrEqual(2) // 100 notifications; counts at most once a second
    } finally {
      stream.close()
    }
  })

  it('answers the poll fallback with counts and the watched job', async () => {
    const { id } = await t.pgq.enqueue('render', {}, { queue: 'poll' })
    const response = await server.get(`/api/live?job=${id}`)
    expect(response.headers.get('content-type')).toMatch(/application\/json/)
    const body = (await response.json()) as LiveData
    expect(body.queues).toContainEqual(expect.objectContaining({ queue: 'poll', waiting: 1 }))
    expect(body.job).toMatchObject({ id, state: 'available' })
    expect((await server.get('/api/live?job=abc')).status).toBe(400)
  })
})
