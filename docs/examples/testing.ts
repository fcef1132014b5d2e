// Samples of docs/testing.md: an application's test file using @pgq/core/testing (vitest; jest is the same).
import { defineTask } from '@pgq/core'
import { createTestSchema, type TestSchema } from '@pgq/core/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'

declare const mailer: { send(to: string): Promise<{ id: string }> }

let queue: TestSchema
// the application's tasks (usually imported from src/tasks.ts)
const sendWelcome = defineTask({
  name: 'send_welcome',
  queue: 'emails',
  handler: async (payload: { to: string }) => ({ messageId: (await mailer.send(payload.to)).id }),
})
const signUp = defineTask({
  name: 'sign_up',
  handler: async (payload: { email: string }) => {
    await queue.pgq.enqueue(sendWelcome, { to: payload.email })
    await queue.pgq.enqueue(sendWelcome, { to: 'team@example.com' }, { delayMs: 3_600_000 })
    return { ok: true }
  },
})

// #region setup
beforeAll(async () => {
  // a new schema pgq_test_<random> in the DATABASE_URL database, migrated
  queue = await createTestSchema({ tasks: [signUp, sendWelcome] })
})
afterAll(() => queue.drop())
// #endregion setup

// #region run-job
it('signs up and queues the welcome email', async () => {
  const run = await queue.runJob(signUp, { email: 'ada@example.com' })
  expect(run.state).toBe('succeeded')
  expect(run.result).toEqual({ ok: true })
  await queue.expectEnqueued(sendWelcome, { to: 'ada@example.com' })
})
// #endregion run-job

// #region drain
it('sends every due email, and the delayed one an hour later', async () => {
  const now = await queue.drain({ queues: ['emails'] })
  expect(now.map((run) => run.state)).toEqual(['succeeded'])

  const inAnHour = new Date(Date.now() + 3_600_000)
  const later = await queue.drain({ now: inAnHour })
  expect(later).toHaveLength(1)
  expect(await queue.enqueuedJobs({ task: sendWelcome, state: 'available' })).toEqual([])
})
// #endregion drain

// #region schedules
it('the nightly report runs once a night', async () => {
  await queue.pgq.schedules.set({
    name: 'nightly',
    cron: '0 3 * * *',
    timezone: 'UTC',
    task: 'send_welcome',
    payload: { to: 'ops@example.com' },
  })
  const runs = await queue.drain({ now: new Date(Date.now() + 3 * 86_400_000) })
  expect(runs.filter((run) => run.task === 'send_welcome')).toHaveLength(3)
})
// #endregion schedules
