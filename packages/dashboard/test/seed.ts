// Jobs in every state, written the way a worker writes them (see pgq's worker-simulation helpers).
import { randomUUID } from 'node:crypto'
import type { TestSchema } from '../../pgq/test/test-database.js'
import {
  markCancelled,
  markFailed,
  markRunning,
  markSucceeded,
  setProgress,
} from '../../pgq/test/worker-simulation.js'

export interface Seeded {
  readonly waiting: string
  readonly scheduled: string
  readonly running: string
  readonly succeeded: string
  readonly failed: string
  readonly cancelled: string
  readonly workerId: string
}

/** One job per state in queue `emails` (task `send_email`), a live worker holding the running one. */
export async function seedEveryState(t: TestSchema): Promise<Seeded> {
  const enqueue = async (payload: unknown, delayMs = 0) =>
    (await t.pgq.enqueue('send_email', payload, { queue: 'emails', delayMs, dedupKey: undefined })).id
  const waiting = await enqueue({ to: '<script>alert("x")</script>@example.com' })
  const scheduled = await enqueue({ to: 'later@example.com' }, 3_600_000)
  const running = await enqueue({ to: 'running@example.com' })
  const succeeded = await enqueue({ to: 'done@example.com' })
  const failed = await enqueue({ to: 'broken@example.com' })
  const cancelled = await enqueue({ to: 'never@example.com' })
  const workerId = randomUUID()
  await t.pool.query(
    `INSERT INTO "${t.schema}".workers (id, hostname, pid, queues, concurrency) VALUES ($1, 'host-a', 4242, '{emails,default}', 8)`,
    [workerId],
  )
  await markRunning(t, running, workerId)
  await setProgress(t, running, { value: 40, meta: { step: 'render' } })
  await markRunning(t, succeeded)
  await markSucceeded(t, succeeded, { sent: true, id: 'msg-1' })
  await markRunning(t, failed)
  await markFailed(t, failed, ['SMTP timeout', 'mailbox <full>'])
  await t.pool.query(
    `UPDATE "${t.schema}".jobs SET errors = jsonb_set(errors, '{1,stack}', '"Error: mailbox <full>\\n    at send (mail.js:10:5)"') WHERE id = $1`,
    [failed],
  )
  // the first attempt as a worker records it: when it started and which worker ran it
  await t.pool.query(
    `UPDATE "${t.schema}".jobs SET errors = jsonb_set(jsonb_set(errors, '{0,startedAt}', to_jsonb(now() - interval '3 seconds')),
       '{0,worker}', to_jsonb($2::text)) WHERE id = $1`,
    [failed, workerId],
  )
  await markCancelled(t, cancelled)
  return { waiting, scheduled, running, succeeded, failed, cancelled, workerId }
}
