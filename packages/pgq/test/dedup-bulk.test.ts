import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema

beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

describe('bulk enqueue with dedup keys under concurrency', () => {
  it('50 transactions enqueueing the same 5 keys in bulk, half rolling back, leave one job per key', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4']
    const clients = await Promise.all(Array.from({ length: 50 }, () => t.client()))
    const outcomes = await Promise.all(
      clients.map(async (client, i) => {
        await client.query('BEGIN')
        const jobs = await t.pgq.enqueueMany(
          [
            ...keys.map((key) => ({ task: 'sync', payload: { from: i }, options: { dedupKey: key } })),
            { task: 'sync', payload: { from: i, unkeyed: true } },
          ],
          { db: client },
        )
        const commit = i % 2 === 0
        await client.query(commit ? 'COMMIT' : 'ROLLBACK')
        return { commit, ids: jobs.slice(0, keys.length).map((j) => j.id) }
      }),
    )
    const { rows } = await t.pool.query(
      `SELECT dedup_key, array_agg(id::text) AS ids FROM "${t.schema}".jobs
       WHERE dedup_key IS NOT NULL GROUP BY dedup_key ORDER BY dedup_key`,
    )
    expect(rows.map((r) => [r.dedup_key, r.ids.length])).toEqual(keys.map((k) => [k, 1]))
    const survivors = rows.map((r) => r.ids[0])
    // Every committed caller got the surviving job's id back for each key.
    for (const outcome of outcomes.filter((o) => o.commit)) expect(outcome.ids).toEqual(survivors)
    const unkeyed = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE dedup_key IS NULL`,
    )
    expect(unkeyed.rows[0].n).toBe(25)
  })
})
