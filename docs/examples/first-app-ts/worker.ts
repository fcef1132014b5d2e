// The worker of docs/getting-started.md in the app's own process (see db.ts).

// #region worker
// worker.ts: a worker inside your own process, instead of `pgq work`
import { createPgq } from '@pgq/core'
import { pool } from './db.js'
import { sendInvoice } from './tasks.js'

const pgq = createPgq({ pool })
const worker = pgq.createWorker({
  tasks: [sendInvoice],
  queues: { emails: 5 }, // each queue with its own concurrency
})
worker.on('job:failed', ({ job, error }) =>
  console.error(`job ${job.id} (${job.task}) failed: ${error.message}`),
)
await worker.start()
process.once('SIGTERM', () => void worker.stop()) // finishes running jobs, then exits
// #endregion worker
