// Writes the state changes a worker makes, directly in SQL, so the admin side can be tested on its own
// (the real worker's tests cover the worker). Each function is one transaction with the worker's NOTIFY.
import type { TestSchema } from './test-database.js'

export async function seedJobs(
  t: TestSchema,
  count: number,
  options: { task?: string; queue?: string; payload?: (i: number) => unknown } = {},
): Promise<string[]> {
  const jobs = await t.pgq.enqueueMany(
    Array.from({ length: count }, (_, i) => ({
      task: options.task ?? 'work',
      payload: options.payload?.(i) ?? { i },
      options: { queue: options.queue ?? 'default' },
    })),
  )
  return jobs.map((j) => j.id)
}

export async function markRunning(t: TestSchema, id: string, workerId?: string): Promise<void> {
  await t.pool.query(
    `UPDATE "${t.schema}".jobs SET state = 'running', locked_by = coalesce($2::uuid, gen_random_uuid()),
       lease_token = gen_random_uuid(), lease_expires_at = now() + interval '30 seconds',
       started_at = now(), attempts = attempts + 1
     WHERE id = $1 AND state = 'available'`,
    [id, workerId ?? null],
  )
}

async function finish(t: TestSchema, id: string, set: string, values: unknown[], retention: string) {
  await t.pool.query(
    `WITH f AS (
       UPDATE "${t.schema}".jobs SET ${set}, finished_at = now(), delete_after = now() + $2::interval,
         locked_by = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE id = $1 RETURNING id
     )
     SELECT pg_notify('${t.schema}:events', 'finished:' || f.id) FROM f`,
    [id, retention, ...values],
  )
}

export async function markSucceeded(t: TestSchema, id: string, result: unknown): Promise<void> {
  await finish(t, id, `state = 'succeeded', result = $3::jsonb`, [JSON.stringify(result)], '1 day')
}

export async function markFailed(t: TestSchema, id: string, messages: string[]): Promise<void> {
  const errors = messages.map((message, i) => ({ attempt: i + 1, at: new Date().toISOString(), message }))
  await finish(
    t,
    id,
    `state = 'failed', attempts = ${messages.length}, errors = $3::jsonb`,
    [JSON.stringify(errors)],
    '14 days',
  )
}

export async function markCancelled(t: TestSchema, id: string): Promise<void> {
  await finish(t, id, `state = 'cancelled'`, [], '7 days')
}

export async function setProgress(t: TestSchema, id: string, progress: unknown): Promise<void> {
  await t.pool.query(
    `WITH p AS (UPDATE "${t.schema}".jobs SET progress = $2::jsonb WHERE id = $1 RETURNING id)
     SELECT pg_notify('${t.schema}:events', 'progress:' || p.id) FROM p`,
    [id, JSON.stringify(progress)],
  )
}

export async function jobRow(t: TestSchema, id: string): Promise<Record<string, unknown> | undefined> {
  return (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
}
