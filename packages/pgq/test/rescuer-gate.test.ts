// The rescuer's statement scans the running jobs (no index orders them by lease since migration
// 0016), so one rescuer at a time does it: a transaction-level advisory lock per schema; a rescuer
// that finds it taken skips the scan and rescues nothing this round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rescueExpiredJobs } from '../src/sql/lease-queries.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

describe('rescueExpiredJobs: one rescuer at a time', () => {
  it('skips while another rescuer holds the schema lock, rescues once it is released', async () => {
    const job = await t.pgq.enqueue('noop', {})
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'running', attempts = 1, lease_token = gen_random_uuid(),
         locked_by = gen_random_uuid(), started_at = now(), lease_expires_at = now() - interval '1 second'
       WHERE id = $1`,
      [job.id],
    )
    const other = await t.client()
    await other.query('BEGIN')
    await other.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`pgq:rescuer:${t.schema}`])
    const params = { limit: 100, failedRetentionMs: null }
    expect(await rescueExpiredJobs(t.pool, t.pgq.names, params)).toEqual({ requeued: 0, failed: 0 })
    await other.query('COMMIT')
    expect(await rescueExpiredJobs(t.pool, t.pgq.names, params)).toEqual({ requeued: 1, failed: 0 })
    const { rows } = await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [job.id])
    expect(rows[0].state).toBe('available')
  })
})
