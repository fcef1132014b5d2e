// Samples of the repository's README.md.

// #region define-task
import { createPgq, defineTask } from '@pgq/core'

export const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  maxAttempts: 3,
  async handler(payload: { to: string }, ctx) {
    await mailer.send(payload.to, { signal: ctx.signal })
    return { sent: true } // stored as the job's result
  },
})

const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
// #endregion define-task

// (the stand-ins the samples use; a dynamic import keeps them out of the sample's import list)
const { mailer, pool } = await import('./stubs.js')

const client = await pool.connect()
const email = 'ada@example.com'
// #region enqueue
await client.query('BEGIN')
await client.query('INSERT INTO users (email) VALUES ($1)', [email])
await pgq.enqueue(sendEmail, { to: email }, { db: client }) // also a Kysely transaction, or a pool
await client.query('COMMIT')
// #endregion enqueue

// #region worker
const worker = pgq.createWorker({ tasks: [sendEmail], queues: { emails: 20 } })
await worker.start()
// #endregion worker
