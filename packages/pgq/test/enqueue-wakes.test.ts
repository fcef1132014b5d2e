// Concurrent single enqueues on the client's own pool send their wake-ups after their commits,
// folded into one NOTIFY per queue per turn (client/enqueue-wakes.ts); a lone enqueue notifies
// inside its own statement; an enqueue on the caller's connection always does (its COMMIT decides).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseQueueWake } from '../src/notify/messages.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
const heard: string[] = []

beforeAll(async () => {
  t = await createTestSchema()
  const listener = await t.client()
  listener.on('notification', (n) => heard.push(n.payload ?? ''))
  await listener.query(`LISTEN "${t.schema}:jobs"`)
})
afterAll(async () => {
  await t.drop()
})

describe('wake-ups of concurrent enqueues', () => {
  it('50 concurrent enqueues: every job committed, fewer NOTIFYs than jobs, each ticket one of the new ids', async () => {
    heard.length = 0
    const jobs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.pgq.enqueue('fold.job', { i }, { queue: 'fold' })),
    )
    // every enqueue resolved after its wake-up (inline or folded) was sent: a marker sent now
    // arrives after all of them
    const marker = `marker-${Date.now()}`
    await t.pool.query('SELECT pg_notify($1, $2)', [`${t.schema}:jobs`, marker])
    await waitFor(() => heard.includes(marker), 5_000, 'the marker')
    heard.splice(heard.indexOf(marker), 1)
    const { rows } = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE queue = 'fold'`,
    )
    expect(rows[0].n).toBe(50)
    const wakes = heard.map((payload) => parseQueueWake(payload))
    expect(wakes.every((w) => w?.queue === 'fold' && w.ticket !== undefined)).toBe(true)
    expect(heard.length).toBeLessThan(50)
    // every ticket is the id of one of the jobs just enqueued
    const ids = new Set(jobs.map((j) => Number(j.id)))
    expect(wakes.every((w) => ids.has(w!.ticket!))).toBe(true)
  })

  it('on the caller’s transaction the wake-up comes with its COMMIT, never before', async () => {
    heard.length = 0
    const client = await t.client()
    await client.query('BEGIN')
    const [a, b] = await Promise.all([
      t.pgq.enqueue('fold.job', {}, { queue: 'tx', db: client }),
      t.pgq.enqueue('fold.job', {}, { queue: 'tx', db: client }),
    ])
    const marker = `marker-${Date.now()}`
    await t.pool.query('SELECT pg_notify($1, $2)', [`${t.schema}:jobs`, marker])
    await waitFor(() => heard.includes(marker), 5_000, 'the marker')
    expect(heard.filter((p) => p.startsWith('tx'))).toEqual([])
    await client.query('COMMIT')
    await waitFor(() => heard.some((p) => p.startsWith('tx*')), 5_000, 'the wake-up after COMMIT')
    expect(a!.id).not.toBe(b!.id)
  })
})
