// Samples of docs/from-graphile-worker-and-pg-boss.md.
import { createPgq, defineSchedule, defineTask } from '@pgq/core'
import { mailer, pool } from './stubs.js'

const pgq = createPgq({ pool })

// #region graphile-tasks
// graphile-worker: run({ connectionString, concurrency: 5, taskList: { send_email: async (payload, helpers) => … } })
export const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  maxAttempts: 25, // graphile's default max_attempts
  async handler(payload: { to: string }, ctx) {
    // helpers.abortSignal → ctx.signal; helpers.job.id → ctx.jobId; helpers.job.attempts → ctx.attempt
    return mailer.send(payload.to, { signal: ctx.signal })
  },
})

const worker = pgq.createWorker({ tasks: [sendEmail], queues: { emails: 5 } }) // concurrency: 5
await worker.start()
// #endregion graphile-tasks

export async function graphileAddJob(to: string, client: import('pg').PoolClient) {
  // #region graphile-add-job
  // addJob('send_email', { to }, { jobKey: `welcome:${to}`, jobKeyMode: 'replace', runAt, maxAttempts: 3 })
  await pgq.enqueue(
    sendEmail,
    { to },
    {
      db: client,
      dedupKey: `welcome:${to}`,
      dedupMode: 'replace',
      runAt: new Date(Date.now() + 60_000),
      maxAttempts: 3,
    },
  )
  // #endregion graphile-add-job
}

export async function pgBoss(userId: number) {
  // #region pg-boss-send
  // boss.send('sync-crm', { userId }, { singletonKey: `user:${userId}`, startAfter: 30,
  //   retryLimit: 4, retryDelay: 10, retryBackoff: true, expireInSeconds: 120, priority: 5 })
  const syncCrm = defineTask({
    name: 'sync-crm',
    maxAttempts: 5, // retryLimit 4 → 5 attempts
    retry: { baseDelayMs: 10_000, backoff: 'exponential' }, // retryDelay + retryBackoff
    timeoutMs: 120_000, // expireInSeconds
    async handler(payload: { userId: number }) {
      return { userId: payload.userId }
    },
  })
  const job = await pgq.enqueue(
    syncCrm,
    { userId },
    { dedupKey: `user:${userId}`, delayMs: 30_000, priority: 5 },
  )

  // boss.getJobById('sync-crm', id)
  const found = await pgq.jobs.get(job.id)
  // #endregion pg-boss-send
  return found
}

// #region pg-boss-schedule
// boss.schedule('nightly-report', '0 3 * * *', { kind: 'daily' }, { tz: 'Europe/Paris' })
export const nightlyReport = defineSchedule({
  name: 'nightly-report',
  cron: '0 3 * * *',
  timezone: 'Europe/Paris',
  task: 'build_report',
  payload: { kind: 'daily' },
})
// in code (re-applied when a worker starts), or at run time: await pgq.schedules.set({ … })
// #endregion pg-boss-schedule
