// The seeds' background work as pgq tasks. Each handler receives ids, reads fresh rows, and writes
// idempotently, because pgq delivers at least once (a job may run again after a crash).

import { defineTask, PermanentError, type TaskContext } from '@pgq/core'
import type pg from 'pg'
import type { AppTables } from './schema.js'

/** What the tasks need: the app's pool and tables, and how long the simulated work takes. */
export interface TaskDeps {
  readonly pool: pg.Pool
  readonly tables: AppTables
  /** Duration of one simulated step of heavy work, in ms (default 400). */
  readonly stepMs?: number
  /** First retry delay of the flaky CRM sync, in ms (default 1,000; doubles each attempt). */
  readonly retryDelayMs?: number
}

/** The CRM answered 503: worth retrying. Anything else from the CRM is permanent. */
export class CrmUnavailableError extends Error {
  constructor() {
    super('CRM answered 503 Service Unavailable (simulated: the first attempt always fails)')
    this.name = 'CrmUnavailableError'
  }
}

/** What a thumbnail task returns: the chord callback receives one per member, in member order. */
export interface Thumbnail {
  readonly videoId: number
  /** Where the frame was taken, as a fraction of the video. */
  readonly at: number
  readonly url: string
}

/** Simulated heavy work that stops as soon as the job is cancelled or times out. */
function work(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), { once: true })
    timer.unref?.()
  })
}

/**
 * The example's tasks, bound to its database.
 *
 * ```ts
 * const tasks = createTasks({ pool, tables: appTables() })
 * await pgq.enqueue(tasks.processVideo, { videoId: 42 })
 * ```
 */
export function createTasks(deps: TaskDeps) {
  const { pool, tables } = deps
  const stepMs = deps.stepMs ?? 400

  /** Celery: `@app.task(bind=True, max_retries=3)` routed to `heavy_compute`. */
  const processVideo = defineTask({
    name: 'process_video',
    queue: 'heavy_compute',
    maxAttempts: 3,
    timeoutMs: 10 * 60_000,
    async handler({ videoId }: { videoId: number }, ctx: TaskContext) {
      const renditions = ['480p', '720p', '1080p']
      await ctx.progress(0, { step: 'probe' })
      for (const [i, rendition] of renditions.entries()) {
        await work(stepMs, ctx.signal)
        await pool.query(`INSERT INTO ${tables.tempFiles} (video_id, path) VALUES ($1, $2)`, [
          videoId,
          `/tmp/transcode/${videoId}-${rendition}.part`,
        ])
        await ctx.progress(Math.round(((i + 1) / renditions.length) * 100), { step: rendition })
      }
      // Idempotent: running this twice leaves the same row.
      await pool.query(
        `UPDATE ${tables.videos} SET status = 'processed', renditions = $2, processed_at = now(), updated_at = now()
          WHERE id = $1`,
        [videoId, renditions],
      )
      return { videoId, renditions }
    },
  })

  /**
   * One thumbnail of a transcoded video, a member of the pipeline's group (src/pipeline.ts): it
   * receives `process_video`'s result as its payload, picks its frame at `at` (a fraction of the
   * video), and returns the thumbnail's URL with the video id. Idempotent: a second run upserts the same row.
   */
  const thumbnail = (name: string, at: number) =>
    defineTask({
      name,
      queue: 'default',
      maxAttempts: 3,
      async handler({ videoId }: { videoId: number; renditions: string[] }, ctx: TaskContext) {
        await work(Math.round(stepMs / 2), ctx.signal)
        const url = `/thumbnails/${videoId}-${Math.round(at * 100)}.jpg`
        await pool.query(
          `INSERT INTO ${tables.thumbnails} (video_id, position, url) VALUES ($1, $2, $3)
           ON CONFLICT (video_id, position) DO UPDATE SET url = EXCLUDED.url`,
          [videoId, at, url],
        )
        return { videoId, at, url }
      },
    })

  /**
   * The chord callback: runs once, after every thumbnail, with their URLs in member order, and
   * publishes the video (Celery: `chord(group(thumbs))(publish.s())`).
   */
  const publishVideo = defineTask({
    name: 'publish_video',
    queue: 'default',
    async handler(thumbnails: Thumbnail[]) {
      const videoId = thumbnails[0]?.videoId
      if (videoId === undefined) throw new PermanentError('publish_video needs at least one thumbnail')
      const urls = thumbnails.map((t) => t.url)
      await pool.query(
        `UPDATE ${tables.videos} SET status = 'published', thumbnails = $2, published_at = now(), updated_at = now()
          WHERE id = $1`,
        [videoId, urls],
      )
      return { videoId, thumbnails: urls, url: `/watch/${videoId}` }
    },
  })

  /** A short, urgent job on `high_priority`, with its own concurrency. */
  const sendWelcomeEmail = defineTask({
    name: 'send_welcome_email',
    queue: 'high_priority',
    maxAttempts: 5,
    async handler({ userId }: { userId: number }) {
      // Idempotent: the outbox's primary key makes a second delivery a no-op.
      const { rowCount } = await pool.query(
        `INSERT INTO ${tables.outbox} (user_id, kind) VALUES ($1, 'welcome') ON CONFLICT DO NOTHING`,
        [userId],
      )
      return { delivered: rowCount === 1 ? 'now' : 'already' }
    },
  })

  /** Fails transiently on its first attempt and succeeds on the retry (Celery `autoretry_for` + `retry_backoff`). */
  const syncCrm = defineTask({
    name: 'sync_crm',
    queue: 'default',
    maxAttempts: 4,
    retry: {
      baseDelayMs: deps.retryDelayMs ?? 1_000,
      retryOn: (error) => error instanceof CrmUnavailableError,
    },
    async handler({ userId }: { userId: number }, ctx: TaskContext) {
      const { rows } = await pool.query(`SELECT email FROM ${tables.users} WHERE id = $1`, [userId])
      if (rows.length === 0) throw new PermanentError(`user ${userId} does not exist`)
      if (ctx.attempt === 1) throw new CrmUnavailableError()
      await pool.query(`UPDATE ${tables.users} SET crm_synced_at = now() WHERE id = $1`, [userId])
      return { synced: true, attempt: ctx.attempt }
    },
  })

  /** Reports progress 0 → 50 → 100 and returns a result (Celery `update_state` + `AsyncResult`). */
  const buildReport = defineTask({
    name: 'build_report',
    queue: 'default',
    async handler({ kind }: { kind: string }, ctx: TaskContext) {
      await ctx.progress(0, { step: 'querying' })
      await work(stepMs, ctx.signal)
      const { rows } = await pool.query<{ videos: number; processed: number; users: number }>(
        `SELECT (SELECT count(*)::int FROM ${tables.videos}) AS videos,
                (SELECT count(*)::int FROM ${tables.videos} WHERE status IN ('processed', 'published')) AS processed,
                (SELECT count(*)::int FROM ${tables.users}) AS users`,
      )
      await ctx.progress(50, { step: 'rendering' })
      await work(stepMs, ctx.signal)
      await ctx.progress(100, { step: 'done' })
      return { kind, ...rows[0], url: `/reports/${ctx.jobId}.pdf` }
    },
  })

  /** The periodic clean-up (Celery beat's `cleanup_old_files`): deletes temp files past their age. */
  const cleanupTempFiles = defineTask({
    name: 'cleanup_temp_files',
    queue: 'default',
    async handler({ olderThanSeconds = 3600 }: { olderThanSeconds?: number }) {
      const { rowCount } = await pool.query(
        `DELETE FROM ${tables.tempFiles} WHERE created_at < now() - make_interval(secs => $1)`,
        [olderThanSeconds],
      )
      return { deleted: rowCount ?? 0 }
    },
  })

  return {
    processVideo,
    thumbnailStart: thumbnail('thumbnail_start', 0.1),
    thumbnailMiddle: thumbnail('thumbnail_middle', 0.5),
    thumbnailEnd: thumbnail('thumbnail_end', 0.9),
    publishVideo,
    sendWelcomeEmail,
    syncCrm,
    buildReport,
    cleanupTempFiles,
  }
}

/** The tasks of {@link createTasks}. */
export type VideoTasks = ReturnType<typeof createTasks>
