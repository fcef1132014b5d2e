// Every SQL writer of a NOTIFY payload, read back by notify/messages.ts: what the database sends
// is what the TypeScript parser understands (and formatQueueWake/formatJobEvent write the same text).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schemaNames } from '../src/db/schema-names.js'
import {
  formatJobEvent,
  formatQueueWake,
  type JobEvent,
  parseJobEvent,
  parseQueueWake,
  type QueueWake,
} from '../src/notify/messages.js'
import { Notifier } from '../src/notify/notifier.js'
import { releaseJobs, rescueExpiredJobs } from '../src/sql/lease-queries.js'
import { setProgress } from '../src/sql/worker-queries.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let notifier: Notifier
const wakes: string[] = []
const events: string[] = []

beforeAll(async () => {
  t = await createTestSchema()
  const names = schemaNames(t.schema)
  notifier = new Notifier({ connectionString: t.url })
  await notifier.subscribe(names.jobsChannel, (p) => wakes.push(p))
  await notifier.subscribe(names.eventsChannel, (p) => events.push(p))
})
afterAll(async () => {
  await notifier.close()
  await t.drop()
})

const noop = defineTask({ name: 'noop', queue: 'mail', handler: async () => 'ok' })

/** Waits for the next payload on a channel and parses it; also checks the TS writer's text. */
async function nextWake(): Promise<QueueWake> {
  await waitFor(() => wakes.length > 0, 5_000, 'a jobs-channel payload')
  const payload = wakes.shift()!
  const wake = parseQueueWake(payload)
  expect(wake, payload).toBeDefined()
  expect(formatQueueWake(wake!)).toBe(payload)
  return wake!
}
async function nextEvent(): Promise<JobEvent> {
  await waitFor(() => events.length > 0, 5_000, 'an events-channel payload')
  const payload = events.shift()!
  const event = parseJobEvent(payload)
  expect(event, payload).toBeDefined()
  expect(formatJobEvent(event!)).toBe(payload)
  return event!
}

/** Claims a job the way a worker does, so the worker statements can be driven directly. */
async function claimOne(id: string): Promise<string> {
  const { rows } = await t.pool.query(
    `UPDATE "${t.schema}".jobs SET state = 'running', lease_token = gen_random_uuid(), locked_by = gen_random_uuid(), attempts = attempts + 1,
       lease_expires_at = now() + interval '1 minute', started_at = now() WHERE id = $1 RETURNING lease_token`,
    [id],
  )
  return rows[0].lease_token
}

describe('notification payloads: SQL writer → TypeScript parser', () => {
  it('enqueue (TypeScript and SQL), due now and in the future: `<queue>*<job id>`, `<queue>` and `<queue>@<ms>`', async () => {
    const first = await t.pgq.enqueue(noop, {})
    expect(await nextWake()).toEqual({ queue: 'mail', ticket: Number(first.id) })
    const many = await t.pgq.enqueueMany([
      { task: noop, payload: {} },
      { task: noop, payload: {} },
    ])
    expect(await nextWake()).toEqual({ queue: 'mail', ticket: Math.min(...many.map((j) => Number(j.id))) })
    const runAt = new Date(Date.now() + 60_000)
    await t.pgq.enqueue(noop, {}, { runAt })
    expect(await nextWake()).toEqual({ queue: 'mail', dueAt: runAt.getTime() })
    await t.pool.query(`SELECT "${t.schema}".enqueue('noop', '{}'::jsonb, queue => 'sql.q')`)
    expect(await nextWake()).toEqual({ queue: 'sql.q' })
    // dedup 'replace' of a waiting job notifies from the function's loop
    await t.pgq.enqueue(noop, { v: 1 }, { dedupKey: 'k' })
    expect((await nextWake()).queue).toBe('mail')
    await t.pgq.enqueue(noop, { v: 2 }, { dedupKey: 'k', dedupMode: 'replace' })
    expect(await nextWake()).toEqual({ queue: 'mail' })
  })

  it('a worker finishing jobs: `finished:<ids>`; progress: `progress:<id>`', async () => {
    await t.pool.query(`TRUNCATE "${t.schema}".jobs`)
    wakes.length = 0
    events.length = 0
    const job = await t.pgq.enqueue(noop, {})
    await nextWake()
    const worker = t.pgq.createWorker({ tasks: [noop] })
    await worker.start()
    try {
      await waitFor(() => events.length > 0, 5_000, 'finished')
      expect(await nextEvent()).toEqual({ kind: 'finished', ids: [job.id] })
    } finally {
      await worker.stop()
    }
    wakes.length = 0
    const running = await t.pgq.enqueue(noop, {})
    await nextWake()
    const token = await claimOne(running.id)
    await setProgress(t.pool, schemaNames(t.schema), {
      id: running.id,
      leaseToken: token,
      progress: '{"p":1}',
    })
    expect(await nextEvent()).toEqual({ kind: 'progress', ids: [running.id] })
    // cancel of a running job asks it to stop; of a waiting one finishes it
    await t.pgq.jobs.cancel(running.id)
    expect(await nextEvent()).toEqual({ kind: 'cancel', ids: [running.id] })
    const waiting = await t.pgq.enqueue(noop, {})
    await nextWake()
    await t.pgq.jobs.cancel(waiting.id)
    expect(await nextEvent()).toEqual({ kind: 'finished', ids: [waiting.id] })
    // retry of a finished job wakes its queue
    await t.pgq.jobs.retry(waiting.id)
    expect(await nextWake()).toEqual({ queue: 'mail' })
  })

  it('release and rescue wake the queue; a rescue that gives up announces `finished:`', async () => {
    const names = schemaNames(t.schema)
    await t.pool.query(`TRUNCATE "${t.schema}".jobs`)
    wakes.length = 0
    events.length = 0
    const a = await t.pgq.enqueue(noop, {})
    const b = await t.pgq.enqueue(noop, {})
    await nextWake()
    await nextWake()
    const tokenA = await claimOne(a.id)
    await releaseJobs(t.pool, names, { ids: [a.id], tokens: [tokenA] })
    expect(await nextWake()).toEqual({ queue: 'mail' })
    await claimOne(b.id)
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET lease_expires_at = now() - interval '1 second', max_interruptions = 1 WHERE id = $1`,
      [b.id],
    )
    await rescueExpiredJobs(t.pool, names, { limit: 10, failedRetentionMs: null })
    expect(await nextEvent()).toEqual({ kind: 'finished', ids: [b.id] })
  })

  it('flow-control settings (pause, resume, limits, from the API or plain SQL): `<queue>!`', async () => {
    wakes.length = 0
    await t.pgq.queues.pause('mail')
    expect(await nextWake()).toEqual({ queue: 'mail', settingsChanged: true })
    await t.pool.query(`SELECT "${t.schema}".resume_queue('mail')`)
    expect(await nextWake()).toEqual({ queue: 'mail', settingsChanged: true })
    await t.pool.query(`UPDATE "${t.schema}".queues SET concurrency = 3 WHERE name = 'mail'`)
    expect(await nextWake()).toEqual({ queue: 'mail', settingsChanged: true })
    await t.pool.query(`DELETE FROM "${t.schema}".queues WHERE name = 'mail'`)
    expect(await nextWake()).toEqual({ queue: 'mail', settingsChanged: true })
  })

  it('parsers refuse what no writer sends', () => {
    for (const bad of ['', 'a b', 'q@', 'q@x', '@1', 'q,r', 'q!!', '!', 'q@1!'])
      expect(parseQueueWake(bad), bad).toBeUndefined()
    for (const bad of ['finished:', 'finished:1,', 'cancel:x', 'other:1', 'progress:1;2']) {
      expect(parseJobEvent(bad), bad).toBeUndefined()
    }
  })
})
