// Samples of docs/flow-control.md.
import { createPgq, PgqValidationError } from 'pgq'

const pgq = createPgq({ connectionString: process.env.DATABASE_URL })

// #region pause-resume
await pgq.queues.pause('video') // running jobs finish; no worker starts a new one
// … deploy the new encoder …
await pgq.queues.resume('video') // every worker of the queue claims again at once
// #endregion pause-resume

// #region concurrency
// at most 5 jobs of `video` running at once, whatever the number of workers and their concurrency
await pgq.queues.set('video', { concurrency: 5 })
const video = await pgq.queues.get('video')
console.log(video) // { queue: 'video', paused: false, concurrency: 5, running: 5, waiting: 120 }
await pgq.queues.set('video', { concurrency: null }) // no global limit again
// #endregion concurrency

// #region rate
// at most 10 jobs of `crm` start per second across all workers (a bucket of 10: a burst of 10
// after a quiet spell, then one every 100 ms)
await pgq.queues.set('crm', { rate: '10/s' })
await pgq.queues.set('reports', { rate: '100/h', concurrency: 2 }) // both apply
await pgq.queues.set('crm', { rate: null }) // no rate limit again
// #endregion rate

// #region validation
try {
  await pgq.queues.set('video', { concurrency: 0 })
} catch (error) {
  if (!(error instanceof PgqValidationError)) throw error
  console.error(error.message) // limits.concurrency: must be an integer from 1 to 1000000 (null removes the limit)
}
// #endregion validation
