// A busy-looking schema for the browser tests and their screenshots: three queues with waiting,
// scheduled, running and failed jobs, an hour of finished jobs (so the charts have bars), three
// schedules (one paused) and two live workers. Deterministic (no random numbers), written in SQL the
// way workers write it; the real worker of a test adds its own jobs in queue `billing`.
import { randomUUID } from 'node:crypto'
import { defineTask, type TaskDefinition } from '@pgq/core'
import type { TestSchema } from '../../pgq/test/test-database.js'
import { markFailed, markRunning, seedJobs, setProgress } from '../../pgq/test/worker-simulation.js'

export interface Showcase {
  /** Running jobs of queue `video`, with progress, held by worker `render-1`. */
  readonly running: readonly string[]
  /** Failed jobs of queue `video` (simulated, two attempts each). */
  readonly failed: readonly string[]
  readonly workers: readonly string[]
}

async function insertWorker(
  t: TestSchema,
  hostname: string,
  pid: number,
  queues: string[],
  concurrency: number,
) {
  const id = randomUUID()
  await t.pool.query(
    `INSERT INTO "${t.schema}".workers (id, hostname, pid, queues, concurrency, started_at)
     VALUES ($1, $2, $3, $4, $5, now() - interval '3 hours 12 minutes')`,
    [id, hostname, pid, queues, concurrency],
  )
  return id
}

/** Seeds the showcase (see the file comment) into a migrated test schema. */
export async function seedShowcase(t: TestSchema): Promise<Showcase> {
  const q = (sql: string, values: unknown[] = []) => t.pool.query(sql, values)
  const jobs = `"${t.schema}".jobs`

  // An hour of history: 360 finished jobs over three queues, one in 24 failed, one in 40 cancelled.
  const history = [
    ...(await seedJobs(t, 180, {
      task: 'send_email',
      queue: 'emails',
      payload: (i) => ({ to: `user${i}@example.com` }),
    })),
    ...(await seedJobs(t, 120, {
      task: 'transcode',
      queue: 'video',
      payload: (i) => ({ video: i, format: 'hls' }),
    })),
    ...(await seedJobs(t, 60, { task: 'build_report', queue: 'reports', payload: (i) => ({ account: i }) })),
  ]
  await q(
    `WITH h AS (
       SELECT id, row_number() OVER (ORDER BY id) AS n FROM ${jobs} WHERE id = ANY($1::bigint[])
     ), t AS (
       SELECT id, n, now() - ((n * 7919) % 3540 + 30) * interval '1 second' AS done FROM h
     )
     UPDATE ${jobs} j SET
       state = CASE WHEN t.n % 24 = 0 THEN 'failed' WHEN t.n % 40 = 0 THEN 'cancelled' ELSE 'succeeded' END,
       attempts = CASE WHEN t.n % 24 = 0 THEN j.max_attempts ELSE 1 END,
       errors = CASE WHEN t.n % 24 = 0 THEN jsonb_build_array(jsonb_build_object(
         'attempt', j.max_attempts, 'at', t.done, 'message', 'upstream answered 503 Service Unavailable'))
         ELSE '[]'::jsonb END,
       result = CASE WHEN t.n % 24 = 0 OR t.n % 40 = 0 THEN NULL ELSE '{"ok": true}'::jsonb END,
       created_at = t.done - (2 + t.n % 9) * interval '1 second',
       run_at = t.done - (2 + t.n % 9) * interval '1 second',
       started_at = t.done - (t.n % 4 + 1) * interval '400 milliseconds',
       finished_at = t.done,
       delete_after = now() + interval '1 day'
     FROM t WHERE j.id = t.id`,
    [history],
  )

  // Waiting: 37 e-mails due for a few minutes (the lag), 12 reports due later today.
  const waiting = await seedJobs(t, 37, {
    task: 'send_email',
    queue: 'emails',
    payload: (i) => ({ to: `waiting${i}@example.com`, template: 'welcome' }),
  })
  await q(
    `UPDATE ${jobs} SET created_at = now() - interval '4 minutes', run_at = now() - interval '3 minutes 20 seconds' WHERE id = ANY($1::bigint[])`,
    [waiting],
  )
  for (let i = 0; i < 12; i++) {
    await t.pgq.enqueue(
      'build_report',
      { account: 1000 + i },
      { queue: 'reports', delayMs: (i + 1) * 1_800_000 },
    )
  }

  // Running: three transcodes with progress, held by a live worker.
  const render = await insertWorker(t, 'render-1', 30211, ['video'], 4)
  const mail = await insertWorker(t, 'mail-1', 30188, ['emails', 'reports'], 20)
  const running = await seedJobs(t, 3, {
    task: 'transcode',
    queue: 'video',
    payload: (i) => ({ video: 900 + i }),
  })
  for (const [i, id] of running.entries()) {
    await markRunning(t, id, render)
    await setProgress(t, id, { value: [72, 35, 8][i], meta: { step: ['package', 'encode', 'probe'][i] } })
  }

  // Failed for good: two transcodes whose source file was gone, both attempts recorded.
  const failed = await seedJobs(t, 2, {
    task: 'transcode',
    queue: 'video',
    payload: (i) => ({ video: 950 + i }),
  })
  for (const id of failed) {
    await markRunning(t, id)
    await markFailed(t, id, [
      'ffprobe: source.mp4: No such file or directory',
      'ffprobe: source.mp4: No such file or directory',
    ])
  }
  // …and they all started a little while ago, not this very second; the running ones hold a lease
  // that outlives a slow test run (no rescuer takes them back meanwhile).
  await q(
    `UPDATE ${jobs} SET created_at = now() - interval '14 minutes', run_at = now() - interval '14 minutes',
       started_at = now() - CASE WHEN state = 'running' THEN interval '2 minutes' ELSE interval '9 minutes' END,
       finished_at = CASE WHEN state = 'failed' THEN now() - interval '8 minutes' END,
       lease_expires_at = CASE WHEN state = 'running' THEN now() + interval '1 hour' END
     WHERE id = ANY($1::bigint[])`,
    [[...running, ...failed]],
  )

  await t.pgq.schedules.set({
    name: 'nightly-report',
    cron: '0 3 * * *',
    timezone: 'Europe/Paris',
    task: 'build_report',
    queue: 'reports',
  })
  await t.pgq.schedules.set({
    name: 'digest',
    cron: '*/15 * * * *',
    task: 'send_email',
    queue: 'emails',
    payload: { digest: true },
  })
  await t.pgq.schedules.set({ name: 'cleanup', cron: '30 4 * * 0', task: 'cleanup' })
  await t.pgq.schedules.pause('cleanup')

  return { running, failed, workers: [render, mail] }
}

/** Thrown by the `charge_card` handler while the card is declined: a real error with a real stack. */
export class CardDeclinedError extends Error {
  override name = 'CardDeclinedError'
}

/**
 * Task `charge_card` (queue `billing`, one attempt): declines while `card.declined` is true, then
 * waits for `card.gate` (when set) and succeeds.
 */
export function chargeCardTask(card: {
  declined: boolean
  gate?: Promise<void>
}): TaskDefinition<{ last4: string; cents: number }, { charged: number; currency: string }> {
  return defineTask({
    name: 'charge_card',
    queue: 'billing',
    maxAttempts: 1,
    handler: async (payload: { last4: string; cents: number }) => {
      if (card.declined) {
        throw new CardDeclinedError(`card ending ${payload.last4} was declined by the issuer (do_not_honor)`)
      }
      await card.gate
      return { charged: payload.cents, currency: 'EUR' }
    },
  })
}
