// The scripted tour: HTTP calls to the example app, then watching the jobs through GET /jobs/:id.
import type { VideoApp } from '@pgq/example-video-app'
import { plural } from '../format.js'
import type { TourLog } from './tour-log.js'

/** What the tour did. */
export interface TourResult {
  /** Every job the tour's requests enqueued, in order. */
  readonly jobIds: readonly string[]
  /** The clean-up job that ran after the other jobs finished. */
  readonly cleanupJobId: string
}

interface HttpResult {
  readonly status: number
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of the example's own API
  readonly body: any
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'expired'])

/** Runs the tour against a started example app; resolves when every job it made has finished. */
export async function runTour(videoApp: VideoApp, log: TourLog, timeoutMs = 40_000): Promise<TourResult> {
  const http = async (
    method: string,
    path: string,
    body?: unknown,
    describe?: (json: HttpResult['body']) => string,
  ): Promise<HttpResult> => {
    const started = performance.now()
    const response = await fetch(`${videoApp.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    })
    const json = await response.json()
    const ms = Math.round(performance.now() - started)
    if (describe) log.event('http', `${method} ${path} → ${response.status} in ${ms} ms: ${describe(json)}`)
    return { status: response.status, body: json }
  }

  const jobIds: string[] = []
  const cleanup = watchCleanup(videoApp, timeoutMs)
  for (const video of [101, 102, 103]) {
    const { body } = await http(
      'POST',
      `/videos/${video}/process`,
      undefined,
      (b) => `job ${b.jobId} (process_video)`,
    )
    jobIds.push(body.jobId)
  }
  const email = `demo-${Date.now()}@example.com`
  const registered = await http(
    'POST',
    '/register',
    { email },
    (b) => `user ${b.userId}, jobs ${b.jobs.welcomeEmail} (send_welcome_email), ${b.jobs.crmSync} (sync_crm)`,
  )
  jobIds.push(registered.body.jobs.welcomeEmail, registered.body.jobs.crmSync)
  await http('POST', '/register', { email }, () => 'the same address again: no user, no job')
  const report = await http('POST', '/reports', { kind: 'monthly' }, (b) => `job ${b.jobId} (build_report)`)
  jobIds.push(report.body.jobId)

  await watchProgress(http, log, jobIds, timeoutMs)
  await Promise.all(jobIds.map((id) => videoApp.pgq.jobs.waitFor(id, { timeoutMs }).catch(() => undefined)))
  log.event('db', 'every job of the tour has finished; waiting for the next periodic clean-up')
  cleanup.arm()
  const cleanupJobId = await cleanup.next
  const done = await videoApp.pgq.jobs.waitFor<{ deleted: number }>(cleanupJobId, { timeoutMs })
  log.event(
    'sched',
    `clean-up job ${cleanupJobId} deleted ${plural(done.deleted, 'temp file')} left by the videos`,
  )
  return { jobIds, cleanupJobId }
}

/** Polls GET /jobs/:id (Celery's AsyncResult) and logs each new progress value until all are final. */
async function watchProgress(
  http: (method: string, path: string) => Promise<HttpResult>,
  log: TourLog,
  ids: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const seen = new Map<string, string>()
  const open = new Set(ids)
  const deadline = Date.now() + timeoutMs
  while (open.size > 0 && Date.now() < deadline) {
    for (const id of [...open]) {
      const { body } = await http('GET', `/jobs/${id}`)
      const progress = body.progress as { value?: number; meta?: { step?: string } } | null
      const key = progress ? `${progress.value}` : ''
      if (progress && seen.get(id) !== key && body.state === 'running') {
        seen.set(id, key)
        const step = progress.meta?.step ? ` (${progress.meta.step})` : ''
        log.event('http', `GET /jobs/${id} → ${body.state}, progress ${progress.value}%${step}`)
      }
      if (FINAL.has(body.state)) open.delete(id)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Watches the clean-up jobs: once `arm()` is called, `next` resolves with the id of the first
 * clean-up job that starts afterwards, when it has succeeded.
 */
function watchCleanup(videoApp: VideoApp, timeoutMs: number): { arm(): void; next: Promise<string> } {
  const worker = videoApp.worker!
  let armed = false
  let eligible: string | undefined
  let arm = () => {}
  const next = new Promise<string>((resolve, reject) => {
    arm = () => {
      armed = true
      const timer = setTimeout(() => reject(new Error(`no clean-up ran within ${timeoutMs} ms`)), timeoutMs)
      worker.on('job:succeeded', ({ job }) => {
        if (job.id !== eligible) return
        clearTimeout(timer)
        resolve(job.id)
      })
    }
  })
  worker.on('job:start', ({ job }) => {
    if (armed && eligible === undefined && job.task === 'cleanup_temp_files') eligible = job.id
  })
  return { arm: () => arm(), next }
}
