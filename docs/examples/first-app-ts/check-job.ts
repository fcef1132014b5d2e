// Reading a job's outcome, as docs/getting-started.md shows it (see db.ts).

// #region check-job
import { createPgq } from '@pgq/core'
import { pool } from './db.js'

const pgq = createPgq({ pool })
const jobId = process.argv[2]! // e.g. the jobId POST /orders answered

const job = await pgq.jobs.get(jobId) // state, attempts, progress, result, errors
if (job?.state === 'succeeded') console.log(job.result)

// or wait for it, from any process (woken by NOTIFY; throws JobFailedError, JobTimeoutError, …)
const result = await pgq.jobs.waitFor<{ invoice: string }>(jobId, { timeoutMs: 60_000 })
console.log(result.invoice)
// #endregion check-job
