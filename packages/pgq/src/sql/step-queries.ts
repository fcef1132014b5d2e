import { type Executor, runQuery } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'

// Durable steps (`ctx.step`, `ctx.sleep`): each write is its own short statement, fenced like every
// write about a held job (still `running` under the same `lease_token`). Zero rows back means the
// lease was lost: a stale run stores nothing.

/**
 * @internal Stores one completed step on its job: `steps[name] = entry + {attempt, at}`. `entry`
 * is JSON text, `{"result": …}` (or `{}` for a step that returned undefined). False when fenced.
 */
export async function saveStep(
  db: Executor,
  names: SchemaNames,
  params: { id: string; leaseToken: string; name: string; entry: string },
): Promise<boolean> {
  const result = await runQuery(
    db,
    `UPDATE ${names.jobs} AS j
     SET steps = coalesce(j.steps, '{}'::jsonb)
               || jsonb_build_object($3::text, $4::jsonb || jsonb_build_object('attempt', j.attempts, 'at', now()))
     WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running'
     RETURNING j.id`,
    [params.id, params.leaseToken, params.name, params.entry],
  )
  return result.rowCount > 0
}

/**
 * @internal Records a sleep the first time it is reached (`until` = the database's now() + delay)
 * and keeps the first record on later runs; returns how long is left until `until` in ms (≤ 0:
 * the sleep is over), or null when fenced.
 */
export async function recordSleep(
  db: Executor,
  names: SchemaNames,
  params: { id: string; leaseToken: string; key: string; delayMs: number },
): Promise<number | null> {
  const result = await runQuery<{ remaining_ms: number }>(
    db,
    `UPDATE ${names.jobs} AS j
     SET steps = CASE WHEN j.steps ? $3::text THEN j.steps
                      ELSE coalesce(j.steps, '{}'::jsonb) || jsonb_build_object($3::text, jsonb_build_object(
                             'until', now() + $4::float8 * interval '1 millisecond', 'attempt', j.attempts, 'at', now()))
                 END
     WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running'
     RETURNING (extract(epoch FROM (j.steps->$3::text->>'until')::timestamptz - now()) * 1000)::float8 AS remaining_ms`,
    [params.id, params.leaseToken, params.key, params.delayMs],
  )
  const row = result.rows[0]
  return row ? Number(row.remaining_ms) : null
}
