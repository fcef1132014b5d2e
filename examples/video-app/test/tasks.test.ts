// The app's tasks one by one with @pgq/core/testing, the way an application tests its own tasks: an
// isolated pgq schema, runJob for one run with a real context, drain with a later `now` for retries
// and the hourly clean-up schedule. No worker, no HTTP (video-app.test.ts covers those end to end).

import { createTestSchema, type TestSchema } from '@pgq/core/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName } from '../../../packages/pgq/test/test-database.js'
import { type AppTables, appTables, createTasks, migrateApp, type VideoTasks } from '../src/index.js'

const MINUTE = 60_000
let pool: pg.Pool
let tables: AppTables
let tasks: VideoTasks
let queue: TestSchema

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 5 })
  tables = appTables(uniqueSchemaName('app'))
  await migrateApp(pool, tables)
  tasks = createTasks({ pool, tables, stepMs: 1, retryDelayMs: 1_000 })
  queue = await createTestSchema({ pool, tasks: Object.values(tasks) })
})
afterAll(async () => {
  await queue?.drop()
  await pool.query(`DROP SCHEMA IF EXISTS "${tables.schema}" CASCADE`)
  await pool.end()
})

describe('the video app tasks under @pgq/core/testing', () => {
  it('process_video transcodes every rendition, reports progress and marks the video processed', async () => {
    await pool.query(`INSERT INTO ${tables.videos} (id) VALUES (42)`)
    const run = await queue.runJob(tasks.processVideo, { videoId: 42 })
    expect(run).toMatchObject({ state: 'succeeded', queue: 'heavy_compute', result: { videoId: 42 } })
    const job = await queue.pgq.jobs.get(run.id)
    expect(job?.progress).toMatchObject({ value: 100, meta: { step: '1080p' } })
    const video = await pool.query(`SELECT status FROM ${tables.videos} WHERE id = 42`)
    expect(video.rows).toEqual([{ status: 'processed' }])
  })

  it('sync_crm fails once with the CRM down, and a drain a minute later retries it to success', async () => {
    const user = await pool.query(
      `INSERT INTO ${tables.users} (email) VALUES ('ada@example.com') RETURNING id::int`,
    )
    const userId = user.rows[0].id as number
    const first = await queue.runJob(tasks.syncCrm, { userId })
    expect(first).toMatchObject({ state: 'retry', error: { name: 'CrmUnavailableError' } })
    expect(await queue.drain()).toEqual([]) // the retry waits for its backoff
    const [retry] = await queue.drain({ now: new Date(Date.now() + MINUTE) })
    expect(retry).toMatchObject({
      id: first.id,
      attempt: 2,
      state: 'succeeded',
      result: { synced: true, attempt: 2 },
    })
    const missing = await queue.runJob(tasks.syncCrm, { userId: 999_999 })
    expect(missing).toMatchObject({ state: 'failed', error: { name: 'PermanentError' } })
  })

  it('send_welcome_email is idempotent: a second delivery of the same user sends nothing', async () => {
    const user = await pool.query(
      `INSERT INTO ${tables.users} (email) VALUES ('bob@example.com') RETURNING id::int`,
    )
    const userId = user.rows[0].id as number
    await queue.pgq.enqueueMany([
      { task: tasks.sendWelcomeEmail, payload: { userId } },
      { task: tasks.sendWelcomeEmail, payload: { userId } },
    ])
    await queue.expectEnqueued(tasks.sendWelcomeEmail, { userId })
    const runs = await queue.drain({ queues: ['high_priority'] })
    expect(runs.map((r) => r.result)).toEqual([{ delivered: 'now' }, { delivered: 'already' }])
  })

  it('the hourly clean-up fires once per tick and deletes old temp files', async () => {
    await queue.pgq.schedules.set({
      name: 'cleanup-temp-files',
      cron: '0 * * * *',
      task: 'cleanup_temp_files',
      payload: { olderThanSeconds: 0 },
    })
    const runs = await queue.drain({ now: new Date(Date.now() + 2 * 60 * MINUTE) })
    const cleanups = runs.filter((r) => r.task === 'cleanup_temp_files')
    expect(cleanups).toHaveLength(2)
    expect(cleanups[0]!.result).toEqual({ deleted: 3 }) // the files process_video left
    expect(cleanups[1]!.result).toEqual({ deleted: 0 })
    const fired = await queue.enqueuedJobs({ task: tasks.cleanupTempFiles })
    expect(fired.map((job) => job.scheduleName)).toEqual(['cleanup-temp-files', 'cleanup-temp-files'])
  })
})
