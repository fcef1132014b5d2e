// Samples of docs/from-celery.md: the seeds' Celery code, construct by construct, in pgq.
import {
  chain,
  chordSettled,
  createPgq,
  defineSchedule,
  defineTask,
  group,
  JobTimeoutError,
  job,
  type MemberOutcome,
  PermanentError,
  snooze,
  step,
} from '@pgq/core'
import { callCrm, encodeVideo, mailer, pool } from './stubs.js'

const pgq = createPgq({ pool })

class TransientError extends Error {}

// #region task
// @app.task(bind=True, max_retries=3) + task_routes {'tasks.process_video': {'queue': 'heavy_compute'}}
export const processVideo = defineTask({
  name: 'process_video',
  queue: 'heavy_compute', // the route lives with the task
  maxAttempts: 4, // max_retries=3 → 1 run + 3 retries
  retry: { baseDelayMs: 60_000, backoff: 'fixed' }, // countdown=60 between attempts
  async handler({ videoId }: { videoId: number }, ctx) {
    // ctx is always there (bind=True's self): ctx.jobId, ctx.attempt, ctx.signal, ctx.progress()
    const { rows } = await pool.query('SELECT file_path FROM videos WHERE id = $1', [videoId])
    await encodeVideo(rows[0].file_path, { signal: ctx.signal })
    await pool.query(`UPDATE videos SET status = 'COMPLETED' WHERE id = $1`, [videoId])
    return `Video ${videoId} processed.` // any thrown error is a failed attempt, retried
  },
})
// #endregion task

export async function calls(videoId: number, request: { to: string; subject: string }) {
  // #region delay
  // process_video.delay(video_id)
  const job = await pgq.enqueue(processVideo, { videoId })

  // process_video.apply_async(args=[video_id], countdown=60)
  await pgq.enqueue(processVideo, { videoId }, { delayMs: 60_000 })

  // send_email_task.apply_async(args=[…], task_id=f"email:{to}:{hash(subject)}") to avoid duplicates
  await pgq.enqueue('send_email', request, { dedupKey: `email:${request.to}:${request.subject}` })
  // #endregion delay

  // #region async-result
  // AsyncResult(task_id).status / .result
  const view = await pgq.jobs.get(job.id)
  console.log(view?.state, view?.progress, view?.result, view?.lastError)

  // AsyncResult(task_id).get(timeout=30)
  try {
    await pgq.jobs.waitFor(job.id, { timeoutMs: 30_000 })
  } catch (error) {
    if (!(error instanceof JobTimeoutError)) throw error // JobFailedError carries every attempt's error
  }
  // #endregion async-result
}

// #region retry
// raise self.retry(exc=exc, countdown=2 ** self.request.retries)  →  throw; the policy sets the delay
// autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, retry_backoff_max=600, retry_jitter=True
export const unreliableTask = defineTask({
  name: 'unreliable_task',
  maxAttempts: 6, // retry_kwargs={'max_retries': 5}
  retry: {
    backoff: 'exponential', // 1 s, 2 s, 4 s, … (the default)
    baseDelayMs: 1_000,
    maxDelayMs: 600_000, // retry_backoff_max=600
    jitter: 0.2, // retry_jitter=True (±20 %; the default)
    retryOn: (error) => error instanceof TransientError, // autoretry_for: anything else fails at once
  },
  async handler({ userId }: { userId: number }, ctx) {
    const response = await callCrm(userId, { signal: ctx.signal })
    if (response.status === 503) throw new TransientError('CRM unavailable')
    if (response.status === 429) return snooze(300_000) // self.retry(countdown=300) without spending an attempt
    if (!response.ok) throw new PermanentError(`CRM refused: ${response.status}`) // fail, no retry
    return response.json()
  },
})
// #endregion retry

// #region progress
// self.update_state(state="PROCESSING", meta={"progress": 50})
export const generateReport = defineTask({
  name: 'generate_report',
  timeoutMs: 300_000, // soft_time_limit=300: ctx.signal aborts (SoftTimeLimitExceeded)
  hardTimeoutGraceMs: 60_000, // time_limit=360: the attempt fails and its slot frees 60 s later
  async handler({ reportType }: { reportType: string }, ctx) {
    await ctx.progress(0, { step: 'querying' })
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM orders', [])
    await ctx.progress(50, { step: 'rendering' })
    if (ctx.signal.aborted) throw ctx.signal.reason // stop early, like catching SoftTimeLimitExceeded
    await ctx.progress(100)
    return { reportType, orders: rows[0].n }
  },
})
// #endregion progress

// #region beat
// beat_schedule = {"daily-backup": {"task": "app.tasks.backup_database", "schedule": crontab(hour=0, minute=0)}}
export const dailyBackup = defineSchedule({
  name: 'daily-backup',
  cron: '0 0 * * *',
  task: 'backup_database',
})
// "schedule": 60.0 → every minute; crontab(minute="*/15") → '*/15 * * * *'; seconds: '*/30 * * * * *'
export const cleanupEveryMinute = defineSchedule({
  name: 'cleanup-every-minute',
  cron: '* * * * *',
  task: 'cleanup_old_files',
})
// #endregion beat

// #region worker
// celery -A tasks worker -Q heavy_compute --concurrency=4   and   -Q high_priority -P gevent -c 100
const worker = pgq.createWorker({
  tasks: [processVideo, unreliableTask, generateReport],
  queues: { heavy_compute: 4, high_priority: 100 }, // async I/O needs no gevent: 100 at once in one process
  schedules: [dailyBackup, cleanupEveryMinute], // --beat: every worker may run the scheduler; one job per tick
})
await worker.start()
// #endregion worker

// #region link
// send_email_task.apply_async(args=[…], link=success_handler.s(), link_error=error_handler.s())
export const sendEmail = defineTask({
  name: 'send_email',
  async handler(payload: { to: string }, ctx) {
    return mailer.send(payload.to, { signal: ctx.signal })
  },
})
// link=: a chain step, an ordinary job that receives the result as its payload
export const recordDelivery = defineTask({
  name: 'record_delivery',
  async handler(sent: { messageId: string }) {
    await pool.query('INSERT INTO deliveries (message_id) VALUES ($1)', [sent.messageId])
  },
})
// link_error=: the callback of a one-member chordSettled runs either way, with { ok, result | error }
export const reportFailure = defineTask({
  name: 'report_failure',
  async handler([outcome]: MemberOutcome<{ messageId: string }>[]) {
    if (outcome && !outcome.ok) console.error(`send_email failed: ${outcome.error.message}`)
  },
})

export async function sendWithCallbacks(to: string) {
  await pgq.workflows.create(chain(job(sendEmail, { to }), step(recordDelivery)))
  await pgq.workflows.create(chordSettled(group(job(sendEmail, { to })), step(reportFailure)))
}
// #endregion link
