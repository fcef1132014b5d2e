import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineTask } from '../src/task/task.js'
import { PgqUnknownTaskError, TaskRegistry } from '../src/task/task-registry.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
let worker: Worker
let registry: TaskRegistry

const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  maxAttempts: 3,
  priority: 4,
  timeoutMs: 30_000,
  retry: { backoff: 'fixed', baseDelayMs: 2_000 },
  payloadSchema: { type: 'object', required: ['to'] },
  parsePayload: (p) => p as { to: string },
  handler: async (_payload: { to: string }) => null,
})
const plain = defineTask({ name: 'plain', handler: async () => null })

beforeAll(async () => {
  t = await createTestSchema()
  registry = new TaskRegistry({ pool: t.pool, schema: t.schema })
  // a worker that never claims (its queues get no jobs it could take before we look)
  worker = t.pgq.createWorker({ tasks: [sendEmail, plain], queues: { idle_only: 1 }, pollIntervalMs: 60_000 })
  await worker.start()
})
afterAll(async () => {
  await worker.stop({ graceMs: 1_000 })
  await t.drop()
})

async function row(id: string | number) {
  const result = await t.pool.query(
    `SELECT task, queue, priority, max_attempts FROM "${t.schema}".jobs WHERE id = $1`,
    [String(id)],
  )
  return result.rows[0]
}

describe('task registry', () => {
  it('a worker registers its tasks at start: defaults, backoff, time limit, schema, who and when', async () => {
    const task = await registry.get('send_email')
    expect(task).toMatchObject({
      name: 'send_email',
      queue: 'emails',
      priority: 4,
      maxAttempts: 3,
      backoff: { backoff: 'fixed', baseDelayMs: 2_000, maxDelayMs: 3_600_000, jitter: 0.2 },
      timeoutMs: 30_000,
      payloadSchema: { type: 'object', required: ['to'] },
      validatesPayload: true,
      lastSeenBy: worker.id,
    })
    expect(task!.lastSeenAt).toBeInstanceOf(Date)
    expect(await registry.get('plain')).toMatchObject({
      queue: 'default',
      maxAttempts: 5,
      validatesPayload: false,
    })
    expect((await registry.list()).map((x) => x.name)).toEqual(['plain', 'send_email'])
  })

  it('a later worker start refreshes the registration (the latest definition wins)', async () => {
    const before = await registry.get('plain')
    const moved = defineTask({ name: 'plain', queue: 'elsewhere', maxAttempts: 2, handler: async () => null })
    const second = t.pgq.createWorker({ tasks: [moved], queues: { idle_only: 1 }, pollIntervalMs: 60_000 })
    await second.start()
    await second.stop({ graceMs: 1_000 })
    const after = await registry.get('plain')
    expect(after).toMatchObject({ queue: 'elsewhere', maxAttempts: 2, lastSeenBy: second.id })
    expect(after!.firstSeenAt).toEqual(before!.firstSeenAt)
    expect(after!.lastSeenAt.getTime()).toBeGreaterThanOrEqual(before!.lastSeenAt.getTime())
    await t.pool.query(
      `UPDATE "${t.schema}".tasks SET queue = 'default', max_attempts = 5 WHERE name = 'plain'`,
    )
  })

  it('SQL enqueue, enqueue_many and TypeScript enqueue by name or definition apply the task defaults', async () => {
    const sql = await t.pool.query(`SELECT "${t.schema}".enqueue('send_email', '{"to":"a@x"}') AS id`)
    const many = await t.pool.query(
      `SELECT id FROM "${t.schema}".enqueue_many('[{"task":"send_email","payload":{"to":"b@x"}}]')`,
    )
    const byName = await t.pgq.enqueue('send_email', { to: 'c@x' })
    const byDefinition = await t.pgq.enqueue(sendEmail, { to: 'd@x' })
    const expected = { task: 'send_email', queue: 'emails', priority: 4, max_attempts: 3 }
    for (const id of [sql.rows[0].id, many.rows[0].id, byName.id, byDefinition.id]) {
      expect(await row(id)).toEqual(expected)
    }
  })

  it('explicit arguments still win over the task defaults', async () => {
    const sql = await t.pool.query(
      `SELECT "${t.schema}".enqueue('send_email', '{}', queue => 'urgent', priority => 9, max_attempts => 1) AS id`,
    )
    const ts = await t.pgq.enqueue('send_email', {}, { queue: 'urgent', priority: 9, maxAttempts: 1 })
    for (const id of [sql.rows[0].id, ts.id]) {
      expect(await row(id)).toEqual({ task: 'send_email', queue: 'urgent', priority: 9, max_attempts: 1 })
    }
  })

  it('an unregistered task enqueued from SQL gets the global defaults and is named by unknown_tasks', async () => {
    const { rows } = await t.pool.query(`SELECT "${t.schema}".enqueue('send_emial', '{}') AS id`)
    expect(await row(rows[0].id)).toEqual({
      task: 'send_emial',
      queue: 'default',
      priority: 0,
      max_attempts: 5,
    })
    await t.pgq.enqueue('send_emial', {}, { queue: 'emails' })
    const view = await t.pool.query(
      `SELECT task, queue, waiting::int FROM "${t.schema}".unknown_tasks ORDER BY queue`,
    )
    expect(view.rows).toEqual([
      { task: 'send_emial', queue: 'default', waiting: 1 },
      { task: 'send_emial', queue: 'emails', waiting: 1 },
    ])
    expect((await registry.unknown()).map((u) => [u.task, u.queue, u.waiting])).toEqual([
      ['send_emial', 'default', 1],
      ['send_emial', 'emails', 1],
    ])
    const error = await registry.require('send_emial').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PgqUnknownTaskError)
    expect((error as PgqUnknownTaskError).message).toMatch(/registered: plain, send_email/)
  })

  it('many workers registering the same tasks at once all succeed', async () => {
    const many = Array.from({ length: 8 }, () =>
      t.pgq.createWorker({ tasks: [plain, sendEmail], queues: { idle_only: 1 }, pollIntervalMs: 60_000 }),
    )
    await Promise.all(many.map((w) => w.start()))
    await Promise.all(many.map((w) => w.stop({ graceMs: 1_000 })))
    expect((await registry.list()).map((x) => x.name)).toEqual(['plain', 'send_email'])
  })
})
