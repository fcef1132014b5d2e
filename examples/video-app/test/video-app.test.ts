// End to end over real HTTP against a real PostgreSQL: the API answers at once, the worker does
// the work, GET /jobs/:id tells the outcome.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName, waitFor } from '../../../packages/pgq/test/test-database.js'
import {
  cleanupSchedule,
  type JobView,
  QUEUES,
  startPipeline,
  startVideoApp,
  type VideoApp,
} from '../src/index.js'

let videoApp: VideoApp
/** The same database and schemas, without a worker: jobs stay where the API put them. */
let idle: VideoApp
const heavyRunning = { now: 0, max: 0 }

beforeAll(async () => {
  const schemas = { pgqSchema: uniqueSchemaName('pgq'), appSchema: uniqueSchemaName('app') }
  videoApp = await startVideoApp({
    databaseUrl: databaseUrl(),
    ...schemas,
    port: 0,
    stepMs: 30,
    retryDelayMs: 50,
    pollIntervalMs: 100,
    schedules: (tasks) => [cleanupSchedule(tasks, { cron: '* * * * * *', olderThanSeconds: 0 })],
  })
  videoApp.worker!.on('job:start', ({ job }) => {
    if (job.queue !== 'heavy_compute') return
    heavyRunning.now += 1
    heavyRunning.max = Math.max(heavyRunning.max, heavyRunning.now)
  })
  // job:end frees the slot; outcome events come later, after the write, so they cannot bracket it
  videoApp.worker!.on('job:end', ({ job }) => {
    if (job.queue === 'heavy_compute') heavyRunning.now -= 1
  })
  idle = await startVideoApp({ databaseUrl: databaseUrl(), ...schemas, port: 0, worker: false })
})

afterAll(async () => {
  await idle?.stop()
  const { pool, tables } = videoApp
  await pool.query(`DROP SCHEMA IF EXISTS "${videoApp.pgq.config.schema}" CASCADE`)
  await pool.query(`DROP SCHEMA IF EXISTS "${tables.schema}" CASCADE`)
  await videoApp?.stop()
})

/** `GET /jobs/:id` as the client reads it: a {@link JobView} after JSON (dates become strings). */
type JobBody = Omit<JobView, 'progress' | 'createdAt' | 'startedAt' | 'finishedAt' | 'runAt'> & {
  readonly progress: { readonly value: number } | null
}
/** What the POST routes answer with: the ids of the jobs they enqueued. */
interface Enqueued {
  readonly jobId: string
  readonly deduplicated?: boolean
  readonly jobs: { readonly welcomeEmail: string; readonly crmSync: string }
}

/** Calls the API; `T` is the JSON body the route promises (not checked at run time). */
async function http<T = Enqueued>(app: VideoApp, method: string, path: string, body?: unknown) {
  const started = performance.now()
  const response = await fetch(`${app.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  return { status: response.status, body: (await response.json()) as T, ms: performance.now() - started }
}

/** GET /jobs/:id until the job is final. */
function finished(app: VideoApp, id: string) {
  return waitFor(
    async () => {
      const { body } = await http<JobBody>(app, 'GET', `/jobs/${id}`)
      return ['succeeded', 'failed', 'cancelled'].includes(body.state) ? body : undefined
    },
    20_000,
    `job ${id}`,
  )
}

/** Jobs the API enqueued (the per-second clean-up schedule keeps adding its own, so they are left out). */
async function jobCount(): Promise<number> {
  const { rows } = await videoApp.pool.query(
    `SELECT count(*)::int AS n FROM "${videoApp.pgq.config.schema}".jobs WHERE schedule_name IS NULL`,
  )
  return rows[0].n
}

describe('POST /videos/:id/process', () => {
  it('writes the video row and the pipeline in one transaction, answers 202 at once, and the workers run it', async () => {
    const response = await http<Enqueued & { workflowId: string }>(videoApp, 'POST', '/videos/7/process')
    expect(response.status).toBe(202)
    expect(response.body).toMatchObject({
      videoId: 7,
      deduplicated: false,
      status: `/jobs/${response.body.jobId}`,
      video: '/videos/7',
    })

    // the first node is the transcode, an ordinary job with progress and a result
    const job = await finished(videoApp, response.body.jobId)
    expect(job).toMatchObject({
      task: 'process_video',
      queue: 'heavy_compute',
      state: 'succeeded',
      attempts: 1,
      progress: { value: 100, meta: { step: '1080p' } },
      result: { videoId: 7, renditions: ['480p', '720p', '1080p'] },
    })
    expect(job).not.toHaveProperty('payload')

    // transcode → 3 thumbnails → publish: the chord callback ran once with the 3 thumbnails in order
    const published = await videoApp.pgq.workflows.waitFor(response.body.workflowId, { timeoutMs: 20_000 })
    const urls = ['/thumbnails/7-10.jpg', '/thumbnails/7-50.jpg', '/thumbnails/7-90.jpg']
    expect(published).toEqual({ videoId: 7, thumbnails: urls, url: '/watch/7' })
    const video = await http<{
      status: string
      thumbnails: string[]
      pipeline: { id: string; state: string; nodes: { task: string; state: string }[] }
    }>(videoApp, 'GET', '/videos/7')
    expect(video.body).toMatchObject({ status: 'published', thumbnails: urls })
    expect(video.body.pipeline).toEqual({
      id: response.body.workflowId,
      state: 'succeeded',
      nodes: ['process_video', 'thumbnail_start', 'thumbnail_middle', 'thumbnail_end', 'publish_video'].map(
        (task) => ({ jobId: expect.any(String), task, state: 'succeeded' }),
      ),
    })
    const publishJobs = await videoApp.pgq.jobs.list({
      workflowId: response.body.workflowId,
      task: 'publish_video',
    })
    expect(publishJobs).toHaveLength(1)
    expect((await http(videoApp, 'GET', '/videos/404404')).status).toBe(404)
  })

  it('a pipeline rolled back with its transaction leaves no node', async () => {
    const client = await videoApp.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(`INSERT INTO ${videoApp.tables.videos} (id, status) VALUES (9, 'queued')`)
      const started = await startPipeline(videoApp, client, 9)
      await client.query('ROLLBACK')
      await expect(videoApp.pgq.workflows.get(started.workflowId)).resolves.toBeUndefined()
      await expect(videoApp.pgq.jobs.get(started.jobId)).resolves.toBeUndefined()
    } finally {
      client.release()
    }
  })

  it('returns the running pipeline again instead of a duplicate, and a new one once it finished', async () => {
    type Started = Enqueued & { workflowId: string }
    const first = await http<Started>(idle, 'POST', '/videos/8/process')
    const second = await http<Started>(idle, 'POST', '/videos/8/process')
    expect(second.body).toMatchObject({
      jobId: first.body.jobId,
      workflowId: first.body.workflowId,
      deduplicated: true,
    })
    await videoApp.pgq.workflows.waitFor(first.body.workflowId, { timeoutMs: 20_000 })
    const third = await http<Started>(idle, 'POST', '/videos/8/process')
    expect(third.body.deduplicated).toBe(false)
    expect(third.body.workflowId).not.toBe(first.body.workflowId)
    await videoApp.pgq.workflows.waitFor(third.body.workflowId, { timeoutMs: 20_000 })
  })

  it('rejects a bad id before anything is written', async () => {
    const before = await jobCount()
    const response = await http(videoApp, 'POST', '/videos/not-a-number/process')
    expect(response.status).toBe(400)
    expect(await jobCount()).toBe(before)
  })

  it('runs heavy_compute jobs at most QUEUES.heavy_compute at a time', async () => {
    const ids = []
    for (const video of [21, 22, 23, 24, 25])
      ids.push((await http(videoApp, 'POST', `/videos/${video}/process`)).body.jobId)
    for (const id of ids) expect((await finished(videoApp, id)).state).toBe('succeeded')
    expect(heavyRunning.max).toBeGreaterThan(0)
    expect(heavyRunning.max).toBeLessThanOrEqual(QUEUES.heavy_compute)
  })
})

describe('POST /register', () => {
  it('creates the user with its welcome e-mail and CRM sync; the sync fails once and succeeds on retry', async () => {
    const response = await http(videoApp, 'POST', '/register', { email: 'ada@example.com' })
    expect(response.status).toBe(201)
    const { welcomeEmail, crmSync } = response.body.jobs

    expect(await finished(videoApp, welcomeEmail)).toMatchObject({
      queue: 'high_priority',
      state: 'succeeded',
      result: { delivered: 'now' },
    })
    const crm = await finished(videoApp, crmSync)
    expect(crm).toMatchObject({ state: 'succeeded', attempts: 2, result: { synced: true, attempt: 2 } })
    const job = await videoApp.pgq.jobs.get(crmSync)
    expect(job?.errors.map((e) => e.message)).toEqual([expect.stringContaining('CRM answered 503')])
  })

  it('enqueues nothing when the transaction does not commit (the address is taken)', async () => {
    const before = await jobCount()
    const response = await http(videoApp, 'POST', '/register', { email: 'ada@example.com' })
    expect(response.status).toBe(409)
    expect(await jobCount()).toBe(before)
  })
})

describe('POST /reports and GET /jobs/:id', () => {
  it('answers at once, reports progress (0, 50, 100: throttled, the last always lands), then the result', async () => {
    const { body, status, ms } = await http(videoApp, 'POST', '/reports', { kind: 'monthly' })
    expect(status).toBe(202)
    expect(ms).toBeLessThan(2_000) // answered without waiting for the report
    const seen = new Set<number>()
    const job = await waitFor(async () => {
      const view = (await http<JobBody>(videoApp, 'GET', `/jobs/${body.jobId}`)).body
      if (view.progress) seen.add(view.progress.value)
      return view.state === 'succeeded' ? view : undefined
    }, 20_000)
    expect(job.result).toMatchObject({ kind: 'monthly', url: `/reports/${body.jobId}.pdf` })
    expect(job.progress?.value).toBe(100)
    expect(seen.has(100)).toBe(true)
    expect([...seen].every((v) => [0, 50, 100].includes(v))).toBe(true)
  })

  it('answers 404 for a job that does not exist', async () => {
    expect((await http(videoApp, 'GET', '/jobs/999999999')).status).toBe(404)
  })
})

describe('the periodic clean-up', () => {
  it('fires from the schedule and deletes the temp files of processed videos', async () => {
    const { rows } = await waitFor(
      async () => {
        const result = await videoApp.pool.query(
          `SELECT result FROM "${videoApp.pgq.config.schema}".jobs
          WHERE task = 'cleanup_temp_files' AND state = 'succeeded' AND (result->>'deleted')::int > 0`,
        )
        return result.rowCount ? result : undefined
      },
      20_000,
      'a clean-up that deleted files',
    )
    expect(rows[0].result.deleted).toBeGreaterThan(0)
    const [schedule] = await videoApp.pgq.schedules.list()
    expect(schedule).toMatchObject({ name: 'cleanup-temp-files', task: 'cleanup_temp_files' })
  })
})
