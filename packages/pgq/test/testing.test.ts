// @pgq/core/testing: an isolated schema per test file, runJob with a real context, drain (what handlers
// enqueue included), enqueuedJobs / expectEnqueued, and time control for delayed jobs, retries and
// schedules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { snooze } from '../src/task/job-outcome.js'
import { defineTask, type TaskDefinition } from '../src/task/task.js'
import { createTestSchema, PgqExpectationError, type TestSchema } from '../src/testing/index.js'
import { databaseUrl } from './test-database.js'

const HOUR = 3_600_000
const later = (ms: number) => new Date(Date.now() + ms)

const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  handler: async (payload: { to: string }, ctx) => {
    await ctx.progress(50)
    const id = await ctx.step('send', () => `msg-${payload.to}`)
    return { messageId: id }
  },
})
let queue: TestSchema
const signUp = defineTask({
  name: 'sign_up',
  handler: async (payload: { email: string }) => {
    await queue.pgq.enqueue(sendEmail, { to: payload.email })
    await queue.pgq.enqueue(sendEmail, { to: 'audit@example.com' }, { delayMs: HOUR })
    return { ok: true }
  },
})
let flakyRuns = 0
let naps = 0
const flaky = defineTask({
  name: 'flaky',
  maxAttempts: 3,
  retry: { baseDelayMs: 60_000, jitter: 0 },
  handler: () => {
    flakyRuns++
    throw new Error(`down #${flakyRuns}`)
  },
})
const napper = defineTask({
  name: 'napper',
  // snoozing does not spend an attempt: the first run snoozes, the next one finishes
  handler: () => (naps++ === 0 ? snooze(10 * 60_000) : 'rested'),
})
const hourly = defineTask({ name: 'hourly_report', handler: (_p: object, ctx) => ctx.jobId })

beforeAll(async () => {
  queue = await createTestSchema({
    connectionString: databaseUrl(),
    tasks: [sendEmail, signUp, flaky, napper, hourly],
  })
})
afterAll(async () => {
  await queue.drop()
})

describe('@pgq/core/testing', () => {
  it('creates an isolated, migrated schema per call', async () => {
    expect(queue.schema).toMatch(/^pgq_test_[0-9a-f]{12}$/)
    const other = await createTestSchema({ connectionString: databaseUrl(), schemaPrefix: 'app_test' })
    expect(other.schema).toMatch(/^app_test_/)
    await other.pgq.enqueue('anything', {})
    expect(await queue.enqueuedJobs({ task: 'anything' })).toEqual([])
    await other.drop()
    const left = await queue.pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [other.schema])
    expect(left.rows).toEqual([])
  })

  it('runJob runs one job with a real context; what it enqueued is visible and drain runs it', async () => {
    const run = await queue.runJob(signUp, { email: 'new@example.com' })
    expect(run).toMatchObject({
      task: 'sign_up',
      queue: 'default',
      attempt: 1,
      state: 'succeeded',
      result: { ok: true },
    })
    const email = await queue.expectEnqueued(sendEmail, { to: 'new@example.com' })
    expect(email).toMatchObject({ queue: 'emails', state: 'available' })
    await expect(queue.expectEnqueued(sendEmail, { to: 'nobody@example.com' })).rejects.toBeInstanceOf(
      PgqExpectationError,
    )
    const runs = await queue.drain({ queues: ['emails'] })
    // the delayed audit email is not due yet
    expect(runs.map((r) => [r.task, r.state, r.result])).toEqual([
      ['send_email', 'succeeded', { messageId: 'msg-new@example.com' }],
    ])
    const steps = await queue.pool.query(`SELECT steps, progress FROM "${queue.schema}".jobs WHERE id = $1`, [
      runs[0]!.id,
    ])
    expect(steps.rows[0].steps).toMatchObject({ send: { result: 'msg-new@example.com' } })
    // an hour later it is
    const next = await queue.drain({ queues: ['emails'], now: later(HOUR + 60_000) })
    expect(next.map((r) => r.result)).toEqual([{ messageId: 'msg-audit@example.com' }])
    expect(await queue.enqueuedJobs({ task: sendEmail, state: 'available' })).toEqual([])
  })

  it('a failing run reports retry; drain at a later time runs the retries to the end', async () => {
    flakyRuns = 0
    const first = await queue.runJob(flaky, {})
    expect(first).toMatchObject({ state: 'retry', attempt: 1, error: { name: 'Error', message: 'down #1' } })
    expect(await queue.drain()).toEqual([]) // the retry waits a minute
    const rest = await queue.drain({ now: later(HOUR) })
    expect(rest.map((r) => [r.task, r.attempt, r.state])).toEqual([
      ['flaky', 2, 'retry'],
      ['flaky', 3, 'failed'],
    ])
    expect(flakyRuns).toBe(3)
  })

  it('a snooze reports snoozed; a later drain finishes the job', async () => {
    const nap = await queue.runJob(napper, {})
    expect(nap.state).toBe('snoozed')
    expect(await queue.drain({ now: later(11 * 60_000) })).toMatchObject([
      { id: nap.id, state: 'succeeded', result: 'rested' },
    ])
  })

  it('drain({ now }) fires each schedule tick up to now, then runs the jobs', async () => {
    await queue.pgq.schedules.set({
      name: 'hourly',
      cron: '0 * * * *',
      timezone: 'UTC',
      task: 'hourly_report',
    })
    const runs = await queue.drain({ now: later(3 * HOUR) })
    const reports = runs.filter((r) => r.task === 'hourly_report')
    expect(reports).toHaveLength(3)
    const fired = await queue.enqueuedJobs({ task: hourly })
    const ticks = fired.map((j) => j.scheduleName)
    expect(ticks).toEqual(['hourly', 'hourly', 'hourly'])
    await queue.pgq.schedules.remove('hourly')
  })

  it('drain stops with PgqExpectationError past maxRuns', async () => {
    let loop: TestSchema | undefined
    const again: TaskDefinition<object, null> = defineTask({
      name: 'again',
      handler: async () => {
        await loop!.pgq.enqueue(again, {})
        return null
      },
    })
    loop = await createTestSchema({ connectionString: databaseUrl(), tasks: [again] })
    try {
      await loop.pgq.enqueue(again, {})
      await expect(loop.drain({ maxRuns: 5 })).rejects.toBeInstanceOf(PgqExpectationError)
    } finally {
      await loop.drop()
    }
  })
})
