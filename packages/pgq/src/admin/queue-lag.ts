import type pg from 'pg'
import { schemaNames } from '../db/schema-names.js'
import { readQueueLags } from '../sql/metrics-queries.js'

/**
 * The lag of each queue that has due jobs waiting: how long its oldest due job has waited, in ms.
 * Queues with nothing due are absent (their lag is 0). Cheap: it reads only available jobs, through
 * the claim index. `pgq health --max-lag` checks it.
 *
 * ```ts
 * const lags = await queueLags(pool, 'pgq')
 * if ((lags.get('emails') ?? 0) > 60_000) alert('emails are a minute behind')
 * ```
 */
export async function queueLags(pool: pg.Pool, schema: string): Promise<Map<string, number>> {
  const rows = await readQueueLags(pool, schemaNames(schema))
  return new Map(rows.map((r) => [r.queue, Math.max(0, Math.round(r.lag_seconds * 1000))]))
}
