// A schedule that leaves its queue and priority unset takes them from the task registry when it
// fires (migration 0007), like every other way of enqueueing; values it sets still win.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { schemaNames } from '../src/db/schema-names.js'
import { silentLogger } from '../src/logger.js'
import { defineSchedule } from '../src/schedule/schedule-definition.js'
import { ScheduleEnqueuer } from '../src/schedule/schedule-enqueuer.js'
import { Schedules } from '../src/schedule/schedules.js'
import { registerTasks } from '../src/sql/task-queries.js'
import { type AnyTaskDefinition, defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let db: TestSchema
let schedules: Schedules
let scheduler: ScheduleEnqueuer

const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  priority: 7,
  maxAttempts: 2,
  handler: async () => null,
})

/** Registers tasks the way a worker does at start. */
async function register(task: AnyTaskDefinition) {
  await registerTasks(db.pool, schemaNames(db.schema), [task], {
    workerId: '00000000-0000-4000-8000-000000000001',
    hostname: 'test',
  })
}

beforeAll(async () => {
  db = await createTestSchema()
  schedules = new Schedules({ pool: db.pool, schema: db.schema })
  scheduler = new ScheduleEnqueuer({
    pool: db.pool,
    schema: db.schema,
    logger: silentLogger,
    onError: () => {},
  })
  await register(sendEmail)
})
afterEach(async () => {
  await db.pool.query(`DELETE FROM "${db.schema}".schedules`)
})
afterAll(async () => {
  await db.drop()
})

async function stored(name: string) {
  const { rows } = await db.pool.query(
    `SELECT queue, priority, max_attempts FROM "${db.schema}".schedules WHERE name = $1`,
    [name],
  )
  return rows[0]
}

/**
 * A cron whose next time after any moment of a test is months away: `fire()` backdates the next run
 * by a second, and with a per-minute cron a run in the first second of a minute also found that
 * minute's tick due (two jobs where the tests expect one).
 */
const YEARLY = '0 0 1 1 *'

/**
 * Makes the schedule due and runs one scheduler pass; returns the job its tick produced. Its earlier
 * jobs are deleted first (a tick that already has a job is never fired again).
 */
async function fire(name: string) {
  await db.pool.query(`DELETE FROM "${db.schema}".jobs WHERE schedule_name = $1`, [name])
  await db.pool.query(
    `UPDATE "${db.schema}".schedules SET next_run_at = date_trunc('second', now()) - interval '1 second' WHERE name = $1`,
    [name],
  )
  expect(await scheduler.tick()).toMatchObject({ enqueued: 1 })
  const { rows } = await db.pool.query(
    `SELECT queue, priority, max_attempts FROM "${db.schema}".jobs
     WHERE schedule_name = $1 ORDER BY id DESC LIMIT 1`,
    [name],
  )
  return rows[0]
}

describe('schedules and the task registry', () => {
  it('a schedule naming a registered task fires into its queue, with its priority and attempts', async () => {
    const info = await schedules.set({ name: 'mail', cron: YEARLY, task: 'send_email' })
    expect(info).toMatchObject({ queue: null, priority: null, maxAttempts: null })
    expect(await stored('mail')).toEqual({ queue: null, priority: null, max_attempts: null })
    expect(await fire('mail')).toEqual({ queue: 'emails', priority: 7, max_attempts: 2 })

    // the manual trigger resolves the same way
    const id = await schedules.trigger('mail')
    const job = await db.pool.query(`SELECT queue, priority FROM "${db.schema}".jobs WHERE id = $1`, [id])
    expect(job.rows[0]).toEqual({ queue: 'emails', priority: 7 })
  })

  it('explicit values still win; what is left unset comes from the task', async () => {
    await schedules.set({ name: 'urgent-mail', cron: YEARLY, task: 'send_email', queue: 'urgent' })
    expect(await fire('urgent-mail')).toEqual({ queue: 'urgent', priority: 7, max_attempts: 2 })
    await schedules.set({
      name: 'urgent-mail',
      cron: YEARLY,
      task: 'send_email',
      queue: 'urgent',
      priority: -1,
      maxAttempts: 9,
    })
    expect(await fire('urgent-mail')).toEqual({ queue: 'urgent', priority: -1, max_attempts: 9 })
  })

  it('is resolved at fire time: a task registered (or moved) later is followed; unregistered means the global defaults', async () => {
    await schedules.set({ name: 'later', cron: YEARLY, task: 'resize_image' })
    expect(await fire('later')).toEqual({ queue: 'default', priority: 0, max_attempts: 5 })
    await register(defineTask({ name: 'resize_image', queue: 'images', handler: async () => null }))
    expect(await fire('later')).toEqual({ queue: 'images', priority: 0, max_attempts: 5 })
    await register(
      defineTask({ name: 'resize_image', queue: 'media', priority: 3, handler: async () => null }),
    )
    expect(await fire('later')).toEqual({ queue: 'media', priority: 3, max_attempts: 5 })
  })

  it('a row inserted in SQL without queue or priority follows the task too', async () => {
    await db.pool.query(
      `INSERT INTO "${db.schema}".schedules (name, cron, task) VALUES ('sql-mail', '${YEARLY}', 'send_email')`,
    )
    expect(await stored('sql-mail')).toEqual({ queue: null, priority: null, max_attempts: null })
    expect(await fire('sql-mail')).toEqual({ queue: 'emails', priority: 7, max_attempts: 2 })
    // the name check still refuses a bad queue, and accepts NULL again
    await expect(
      db.pool.query(`UPDATE "${db.schema}".schedules SET queue = 'no spaces' WHERE name = 'sql-mail'`),
    ).rejects.toThrow(/schedules_queue_check/)
    await db.pool.query(
      `UPDATE "${db.schema}".schedules SET queue = 'x', priority = 1 WHERE name = 'sql-mail'`,
    )
    await db.pool.query(
      `UPDATE "${db.schema}".schedules SET queue = NULL, priority = NULL WHERE name = 'sql-mail'`,
    )
    expect(await fire('sql-mail')).toEqual({ queue: 'emails', priority: 7, max_attempts: 2 })
  })

  it('a schedule given a task definition stores that definition’s queue, priority and attempts', async () => {
    const declared = defineSchedule({ name: 'code-mail', cron: YEARLY, task: sendEmail })
    expect(declared).toMatchObject({ queue: 'emails', priority: 7, maxAttempts: 2 })
    const byName = defineSchedule({ name: 'code-mail', cron: YEARLY, task: 'send_email' })
    expect(byName).toMatchObject({ queue: null, priority: null, maxAttempts: null })
    const plain = defineTask({ name: 'plain', handler: async () => null })
    expect(defineSchedule({ name: 'p', cron: '@daily', task: plain })).toMatchObject({
      queue: 'default',
      priority: null,
      maxAttempts: null,
    })
  })
})
