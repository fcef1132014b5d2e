// The HTTP API: each endpoint writes what it must, enqueues the slow part, and answers at once.

import type { Pgq } from '@pgq/core'
import Fastify, { type FastifyInstance } from 'fastify'
import type pg from 'pg'
import { jobView } from './job-view.js'
import { pipelineView, startPipeline } from './pipeline.js'
import type { AppTables } from './schema.js'
import type { VideoTasks } from './tasks.js'

/** What the API needs. */
export interface AppDeps {
  readonly pool: pg.Pool
  readonly pgq: Pgq
  readonly tables: AppTables
  readonly tasks: VideoTasks
  /** Fastify's logger (default off: payloads and e-mail addresses stay out of logs). */
  readonly logger?: boolean
}

/** Runs `body` in a transaction on one client: COMMIT if it resolves, ROLLBACK if it throws. */
async function transaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await body(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
} as const

/**
 * Builds the Fastify app (not yet listening).
 *
 * ```ts
 * const app = buildApp({ pool, pgq, tables, tasks })
 * await app.listen({ port: 3000, host: '127.0.0.1' })
 * ```
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { pool, pgq, tables, tasks } = deps
  const app = Fastify({ logger: deps.logger ?? false })

  // Celery: `chain(process_video.s(id), chord(thumbs, publish.s())).delay()`, but created in the
  // same transaction as the business row (src/pipeline.ts).
  app.post<{ Params: { id: number } }>(
    '/videos/:id/process',
    { schema: { params: idParam } },
    async (req, reply) => {
      const videoId = req.params.id
      const started = await transaction(pool, async (client) => {
        await client.query(
          `INSERT INTO ${tables.videos} (id, status) VALUES ($1, 'queued')
         ON CONFLICT (id) DO UPDATE SET status = 'queued', updated_at = now()`,
          [videoId],
        )
        // While the video's pipeline runs, asking again returns it (Celery's task_id=…).
        return startPipeline({ pgq, tables, tasks }, client, videoId)
      })
      return reply
        .code(202)
        .header('location', `/videos/${videoId}`)
        .send({ videoId, ...started, status: `/jobs/${started.jobId}`, video: `/videos/${videoId}` })
    },
  )

  // The video and its pipeline: each node's state, the thumbnails once published.
  app.get<{ Params: { id: number } }>('/videos/:id', { schema: { params: idParam } }, async (req, reply) => {
    const { rows } = await pool.query<{
      status: string
      thumbnails: string[]
      workflow_id: string | null
      published_at: Date | null
    }>(`SELECT status, thumbnails, workflow_id::text, published_at FROM ${tables.videos} WHERE id = $1`, [
      req.params.id,
    ])
    const video = rows[0]
    if (!video) return reply.code(404).send({ error: `no video ${req.params.id}` })
    const wf = video.workflow_id ? await pgq.workflows.get(video.workflow_id) : undefined
    return {
      videoId: req.params.id,
      status: video.status,
      thumbnails: video.thumbnails,
      publishedAt: video.published_at,
      pipeline: wf ? pipelineView(wf) : null,
    }
  })

  // The seeds' /register: the user row and its follow-up jobs commit together or not at all.
  app.post<{ Body: { email: string } }>(
    '/register',
    {
      schema: {
        body: {
          type: 'object',
          required: ['email'],
          properties: {
            email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
          },
        },
      },
    },
    async (req, reply) => {
      const result = await transaction(pool, async (client) => {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO ${tables.users} (email) VALUES ($1) ON CONFLICT (email) DO NOTHING RETURNING id`,
          [req.body.email],
        )
        if (rows.length === 0) return undefined
        const userId = Number(rows[0]!.id)
        const welcome = await pgq.enqueue(tasks.sendWelcomeEmail, { userId }, { db: client })
        const crm = await pgq.enqueue(tasks.syncCrm, { userId }, { db: client })
        return { userId, jobs: { welcomeEmail: welcome.id, crmSync: crm.id } }
      })
      if (!result) return reply.code(409).send({ error: 'this e-mail address is already registered' })
      return reply.code(201).send(result)
    },
  )

  app.post<{ Body: { kind?: string } | undefined }>(
    '/reports',
    {
      schema: {
        body: { type: 'object', properties: { kind: { type: 'string', enum: ['daily', 'monthly'] } } },
      },
    },
    async (req, reply) => {
      const job = await pgq.enqueue(tasks.buildReport, { kind: req.body?.kind ?? 'daily' })
      return reply
        .code(202)
        .header('location', `/jobs/${job.id}`)
        .send({ jobId: job.id, status: `/jobs/${job.id}` })
    },
  )

  // Celery's AsyncResult(task_id): state, progress, result or error. Never the payload.
  app.get<{ Params: { id: number } }>('/jobs/:id', { schema: { params: idParam } }, async (req, reply) => {
    const job = await pgq.jobs.get(String(req.params.id))
    if (!job) return reply.code(404).send({ error: `no job ${req.params.id} (never created, or pruned)` })
    return jobView(job)
  })

  app.get('/health', async () => {
    await pool.query('SELECT 1')
    return { ok: true }
  })

  return app
}
