// Samples of docs/getting-started.md (regions are copied into the guide by scripts/sync-doc-snippets.mjs).

import { startDev } from '@pgq/embedded'
import { createPgq, defineSchedule, defineTask } from 'pgq'
import { encodeVideo, mailer, pool } from './stubs.js'

// #region define-tasks
// tasks.ts: what runs in the background. Payloads are small JSON: pass ids, not objects.
export const processVideo = defineTask({
  name: 'process_video',
  queue: 'heavy_compute',
  maxAttempts: 3,
  timeoutMs: 30 * 60_000,
  async handler({ videoId }: { videoId: number }, ctx) {
    const { rows } = await pool.query('SELECT path FROM videos WHERE id = $1', [videoId])
    await ctx.progress(10, { step: 'encoding' })
    await encodeVideo(rows[0].path, { signal: ctx.signal })
    await pool.query(`UPDATE videos SET status = 'processed' WHERE id = $1`, [videoId])
    return { videoId } // stored as the job's result
  },
})

export const sendWelcomeEmail = defineTask({
  name: 'send_welcome_email',
  queue: 'high_priority',
  async handler({ to }: { to: string }, ctx) {
    return mailer.send(to, { signal: ctx.signal })
  },
})
// #endregion define-tasks

// #region client
const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
await pgq.migrate() // or `pgq migrate` at deploy time; safe from many processes at once
// #endregion client

export async function processRoute(videoId: number): Promise<{ jobId: string }> {
  // #region enqueue
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(`UPDATE videos SET status = 'queued' WHERE id = $1`, [videoId])
    const job = await pgq.enqueue(processVideo, { videoId }, { db: client })
    await client.query('COMMIT') // the row and the job exist together, or neither does
    return { jobId: job.id } // answer 202 at once; the worker does the rest
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  } finally {
    client.release()
  }
  // #endregion enqueue
}

export async function runWorker(): Promise<void> {
  // #region worker
  const worker = pgq.createWorker({
    tasks: [processVideo, sendWelcomeEmail],
    queues: { heavy_compute: 2, high_priority: 20 }, // each queue with its own concurrency
  })
  worker.on('job:failed', ({ job, error }) =>
    console.error(`job ${job.id} (${job.task}) failed: ${error.message}`),
  )
  await worker.start()
  process.once('SIGTERM', () => void worker.stop()) // finishes running jobs, then exits
  // #endregion worker
}

export async function jobStatus(jobId: string) {
  // #region check-job
  const job = await pgq.jobs.get(jobId) // state, attempts, progress, result, errors
  if (job?.state === 'succeeded') console.log(job.result)

  // or wait for it, from any process (woken by NOTIFY; throws JobFailedError, JobTimeoutError, …)
  const result = await pgq.jobs.waitFor<{ videoId: number }>(jobId, { timeoutMs: 60_000 })
  // #endregion check-job
  return result
}

// #region schedule
export const nightlyCleanup = defineSchedule({
  name: 'nightly-cleanup',
  cron: '0 3 * * *',
  timezone: 'Europe/Paris',
  task: 'cleanup_temp_files',
})
// pass it to a worker: pgq.createWorker({ tasks, schedules: [nightlyCleanup] })
// #endregion schedule

export async function develop(): Promise<void> {
  // #region dev
  // The library form of `pgq dev`: embedded PostgreSQL in .pgq/data (or $DATABASE_URL), migrated,
  // with a worker and the scheduler.
  const dev = await startDev({ worker: { tasks: [processVideo, sendWelcomeEmail] } })
  console.log(`psql ${dev.url}`)
  await dev.pgq.enqueue(sendWelcomeEmail, { to: 'ada@example.com' })
  // … later
  await dev.stop()
  // #endregion dev
}
