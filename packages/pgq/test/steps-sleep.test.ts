// ctx.sleep: the attempt ends, the only slot runs another job meanwhile, and the job resumes after
// the delay with its attempts unchanged and its finished steps skipped.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SleepInterrupt } from '../src/task/step-errors.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
const workers: Worker[] = []

beforeAll(async () => {
  t = await createTestSchema()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
})
afterAll(async () => {
  await t.drop()
})

async function job(id: string) {
  return (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
}

describe('ctx.sleep', () => {
  it('frees the slot (another job runs meanwhile) and resumes after ≥ 2 s without spending an attempt', async () => {
    const ran: string[] = []
    let thrown: unknown
    const napper = defineTask({
      name: 'napper',
      handler: async (_p: object, ctx) => {
        await ctx.step('before', () => {
          ran.push('before')
        })
        try {
          await ctx.sleep(2_000)
        } catch (error) {
          thrown ??= error
          throw error
        }
        await ctx.step('after', () => {
          ran.push('after')
        })
        return 'rested'
      },
    })
    const quick = defineTask({ name: 'quick', handler: async () => 'quick' })
    const worker = t.pgq.createWorker({ tasks: [napper, quick], concurrency: 1, pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()

    const { id } = await t.pgq.enqueue(napper, {})
    const asleep = await waitFor(
      async () => {
        const row = await job(id)
        return row.state === 'available' && row.steps?.['pgq:sleep:1'] ? row : undefined
      },
      5_000,
      'napper asleep',
    )
    expect(thrown).toBeInstanceOf(SleepInterrupt)
    expect(asleep.attempts).toBe(0) // the sleeping attempt was not charged
    expect(asleep.locked_by).toBeNull()

    // the only slot is free: another job runs while the napper sleeps
    const other = await t.pgq.enqueue(quick, {})
    await expect(t.pgq.jobs.waitFor(other.id, { timeoutMs: 1_500 })).resolves.toBe('quick')
    expect((await job(id)).state).toBe('available')

    await expect(t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).resolves.toBe('rested')
    const row = await job(id)
    expect(row.attempts).toBe(1)
    expect(ran).toEqual(['before', 'after']) // 'before' was not run again on resume
    const slept = await t.pool.query(
      `SELECT extract(epoch FROM $1::timestamptz - (steps->'pgq:sleep:1'->>'at')::timestamptz) * 1000 AS ms,
              steps->'pgq:sleep:1' ? 'until' AS has_until
       FROM "${t.schema}".jobs WHERE id = $2`,
      [row.finished_at, id],
    )
    expect(Number(slept.rows[0].ms)).toBeGreaterThanOrEqual(2_000)
    expect(slept.rows[0].has_until).toBe(true)
    expect(Object.keys(row.steps).sort()).toEqual(['after', 'before', 'pgq:sleep:1'])
  })

  it('takes "500ms"-style strings and refuses bad durations with a validation error', async () => {
    const bad: unknown[] = []
    const durations = defineTask({
      name: 'durations',
      maxAttempts: 1,
      handler: async (_p: object, ctx) => {
        for (const d of ['soon', -1, Number.NaN, '400d']) {
          await ctx.sleep(d as never).catch((error: Error) => bad.push(error.name))
        }
        await ctx.sleep('300ms')
        return 'woke'
      },
    })
    const worker = t.pgq.createWorker({ tasks: [durations], concurrency: 1, pollIntervalMs: 100 })
    workers.push(worker)
    await worker.start()
    const { id } = await t.pgq.enqueue(durations, {})
    await expect(t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).resolves.toBe('woke')
    // each run refuses the four bad durations; the second run passes the recorded sleep
    expect(bad).toEqual(Array(8).fill('PgqValidationError'))
    expect((await job(id)).attempts).toBe(1)
  })
})
