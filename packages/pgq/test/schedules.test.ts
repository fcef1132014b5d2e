import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgqError, PgqValidationError } from '../src/errors.js'
import { silentLogger } from '../src/logger.js'
import { defineSchedule } from '../src/schedule/schedule-definition.js'
import { ScheduleEnqueuer } from '../src/schedule/schedule-enqueuer.js'
import { PgqScheduleNotFoundError, Schedules } from '../src/schedule/schedules.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let db: TestSchema
let schedules: Schedules

beforeAll(async () => {
  db = await createTestSchema()
  schedules = new Schedules({ pool: db.pool, schema: db.schema })
})
afterAll(async () => {
  await db.drop()
})

function thrown(fn: () => unknown): PgqValidationError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(PgqValidationError)
    return error as PgqValidationError
  }
  throw new Error('expected a PgqValidationError')
}

async function rejected(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: Error) => error,
  )
}

describe('defineSchedule: validation on write', () => {
  const report = defineTask({ name: 'report', queue: 'reports', maxAttempts: 2, handler: () => null })

  it('takes queue and attempts from the task and freezes the result', () => {
    const schedule = defineSchedule({
      name: 'r',
      cron: '0  8 * * 1-5',
      task: report,
      timezone: 'Europe/Paris',
    })
    expect(schedule).toMatchObject({ cron: '0 8 * * 1-5', queue: 'reports', maxAttempts: 2, missed: 'skip' })
    expect(Object.isFrozen(schedule)).toBe(true)
  })

  it.each([
    [{ cron: 'every day' }, 'schedule.cron', /must have 5 fields/],
    [{ cron: '0 0 30 2 *' }, 'schedule.cron', /never fires/],
    [{ timezone: 'Europe/Atlantis' }, 'schedule.timezone', /unknown time zone "Europe\/Atlantis"/],
    [{ payload: { at: new Date() } }, 'schedule.payload.at', /a Date is not JSON/],
    [{ payload: { n: 1n } }, 'schedule.payload.n', /BigInt/],
    [{ payload: 'x'.repeat(300_000) }, 'schedule.payload', /at most 262144 bytes/],
    [{ missed: 'later' }, 'schedule.missed', /"skip", "once" or "all"/],
    [{ backfillLimit: 0 }, 'schedule.backfillLimit', /from 1 to 10000/],
    [{ name: 'a b' }, 'schedule.name', /1-128 characters/],
    [{ every: 'day' }, 'schedule.every', /unknown option/],
  ])('rejects %o at %s', (override, path, message) => {
    const error = thrown(() =>
      defineSchedule({ name: 'x', cron: '* * * * *', task: 'report', ...override } as never),
    )
    expect(error.path).toBe(path)
    expect(error.message).toMatch(message)
  })

  it('rejects an unknown task when the task registry is known', () => {
    const error = thrown(() =>
      defineSchedule(
        { name: 'x', cron: '* * * * *', task: 'reprot' },
        { knownTasks: new Set(['report', 'cleanup']) },
      ),
    )
    expect(error.message).toBe('schedule.task: unknown task "reprot"; known tasks: cleanup, report')
  })
})

describe('Schedules', () => {
  it('add, get, list, set (runtime change), remove', async () => {
    const added = await schedules.add({
      name: 'digest',
      cron: '0 8 * * 1',
      task: 'send_digest',
      payload: { w: 1 },
    })
    expect(added).toMatchObject({ name: 'digest', source: 'table', status: 'active', payload: { w: 1 } })
    expect(added.nextRunAt!.getUTCHours()).toBe(8)
    const error = await rejected(schedules.add({ name: 'digest', cron: '* * * * *', task: 't' }))
    expect(error).toBeInstanceOf(PgqError)
    expect((error as PgqError).code).toBe('PGQ_SCHEDULE_EXISTS')

    // same cron: the next run time is kept; new cron: recomputed at once
    const same = await schedules.set({
      name: 'digest',
      cron: '0 8 * * 1',
      task: 'send_digest',
      queue: 'mail',
    })
    expect(same.nextRunAt).toEqual(added.nextRunAt)
    expect(same.queue).toBe('mail')
    const changed = await schedules.set({ name: 'digest', cron: '15 9 * * *', task: 'send_digest' })
    expect(changed.nextRunAt!.getUTCMinutes()).toBe(15)

    expect((await schedules.list()).map((s) => s.name)).toEqual(['digest'])
    expect((await schedules.get('digest'))?.cron).toBe('15 9 * * *')
    expect(await schedules.get('nope')).toBeUndefined()
    expect(await schedules.remove('digest')).toBe(true)
    expect(await schedules.remove('digest')).toBe(false)
  })

  it('pause, resume (ticks while paused are not caught up), trigger, preview', async () => {
    await schedules.set({ name: 'hourly', cron: '0 * * * *', task: 'sync', timezone: 'Asia/Kolkata' })
    await schedules.pause('hourly')
    expect((await schedules.get('hourly'))?.status).toBe('paused')
    // while paused, its tick passes
    await db.pool.query(
      `UPDATE "${db.schema}".schedules SET next_run_at = now() - interval '3 hours' WHERE name = 'hourly'`,
    )
    await schedules.resume('hourly')
    expect((await schedules.get('hourly'))?.nextRunAt).toBeNull()
    const scheduler = new ScheduleEnqueuer({
      pool: db.pool,
      schema: db.schema,
      logger: silentLogger,
      onError: () => {},
    })
    expect(await scheduler.tick()).toMatchObject({ claimed: 1, enqueued: 0 })
    expect((await schedules.get('hourly'))!.nextRunAt!.getTime()).toBeGreaterThan(Date.now())

    const jobId = await schedules.trigger('hourly')
    const info = await schedules.get('hourly')
    expect(info).toMatchObject({ lastJobId: jobId, lastJobState: 'available' })
    const job = await db.pool.query(
      `SELECT task, schedule_name, meta FROM "${db.schema}".jobs WHERE id = $1`,
      [jobId],
    )
    expect(job.rows[0]).toEqual({ task: 'sync', schedule_name: 'hourly', meta: { trigger: 'manual' } })

    const preview = await schedules.preview('hourly', 3)
    expect(preview).toHaveLength(3)
    expect(preview[1]!.at.getTime() - preview[0]!.at.getTime()).toBe(3_600_000)
    expect(preview[0]!.local).toMatch(/T\d\d:00:00\+05:30$/)

    for (const call of [
      () => schedules.pause('ghost'),
      () => schedules.resume('ghost'),
      () => schedules.trigger('ghost'),
      () => schedules.preview('ghost'),
    ]) {
      expect(await rejected(call())).toBeInstanceOf(PgqScheduleNotFoundError)
    }
    expect(await rejected(schedules.preview('hourly', 0))).toBeInstanceOf(PgqValidationError)
  })

  it('validates against the known tasks of its options', async () => {
    const strict = new Schedules({ pool: db.pool, schema: db.schema, knownTasks: new Set(['sync']) })
    const error = await rejected(strict.set({ name: 'typo', cron: '* * * * *', task: 'snyc' }))
    expect(error.message).toMatch(/unknown task "snyc"/)
    expect(await schedules.get('typo')).toBeUndefined()
  })
})
