import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { Pruner } from '../src/maintenance/pruner.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import { markRunning, seedJobs } from './worker-simulation.js'

let t: TestSchema
const errors: unknown[] = []
const onError = (_: string, error: unknown) => errors.push(error)

beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})
beforeEach(async () => {
  await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
  errors.length = 0
})

/** Finishes jobs in `state` with delete_after `offset` from now (negative: due). */
async function finishAll(ids: string[], state: string, offset: string): Promise<void> {
  await t.pool.query(
    `UPDATE "${t.schema}".jobs SET state = $2, finished_at = now(), delete_after = now() + $3::interval
     WHERE id = ANY($1::bigint[])`,
    [ids, state, offset],
  )
}

async function remaining(): Promise<Record<string, number>> {
  const { rows } = await t.pool.query(
    `SELECT state, count(*)::int AS n FROM "${t.schema}".jobs GROUP BY state`,
  )
  return Object.fromEntries(rows.map((r) => [r.state, r.n]))
}

describe('Pruner', () => {
  it('deletes only finished jobs past delete_after, in batches, and reports how many', async () => {
    const due = await seedJobs(t, 25)
    const notDue = await seedJobs(t, 5)
    const [running, waiting] = await seedJobs(t, 2)
    await finishAll(due.slice(0, 10), 'succeeded', '-1 second')
    await finishAll(due.slice(10, 20), 'failed', '-1 minute')
    await finishAll(due.slice(20), 'cancelled', '-1 day')
    await finishAll(notDue, 'succeeded', '1 hour')
    await markRunning(t, running!)
    const pruner = new Pruner({ pool: t.pool, schema: t.schema, onError, batchSize: 4 })
    expect(await pruner.pruneOnce()).toBe(25)
    expect(await remaining()).toEqual({ succeeded: 5, running: 1, available: 1 })
    expect(await pruner.pruneOnce()).toBe(0)
    expect(waiting).toBeDefined()
  })

  it('stops a run after maxBatchesPerRun batches', async () => {
    await finishAll(await seedJobs(t, 10), 'succeeded', '-1 second')
    const pruner = new Pruner({ pool: t.pool, schema: t.schema, onError, batchSize: 3, maxBatchesPerRun: 2 })
    expect(await pruner.pruneOnce()).toBe(6)
  })

  it('a run that stopped at its cap is followed by the next at once, not an interval later', async () => {
    await finishAll(await seedJobs(t, 50), 'succeeded', '-1 second')
    // 2 batches of 3 per run, runs an hour apart: only the follow-up runs can delete all 50 in time
    const pruner = new Pruner({
      ...{ pool: t.pool, schema: t.schema, onError },
      ...{ batchSize: 3, maxBatchesPerRun: 2, intervalMs: 3_600_000 },
    })
    pruner.start()
    try {
      await waitFor(async () => Object.keys(await remaining()).length === 0, 10_000, 'every due job pruned')
    } finally {
      await pruner.stop()
    }
    expect(errors).toEqual([])
  })

  it('several pruners at once delete every due job exactly once, without errors or waits', async () => {
    await finishAll(await seedJobs(t, 500), 'succeeded', '-1 second')
    const pruners = Array.from(
      { length: 4 },
      () => new Pruner({ pool: t.pool, schema: t.schema, onError, batchSize: 20 }),
    )
    const counts = await Promise.all(pruners.map((p) => p.pruneOnce()))
    // A pruner stops at a short batch, which SKIP LOCKED may cause; a second round finishes the rest.
    const more = await Promise.all(pruners.map((p) => p.pruneOnce()))
    expect([...counts, ...more].reduce((a, b) => a + b, 0)).toBe(500)
    expect(await remaining()).toEqual({})
  })

  it('runs periodically once started and stops cleanly', async () => {
    const pruner = new Pruner({ pool: t.pool, schema: t.schema, onError, intervalMs: 50 })
    pruner.start()
    await finishAll(await seedJobs(t, 3), 'succeeded', '-1 second')
    await waitFor(async () => Object.keys(await remaining()).length === 0, 5_000, 'periodic prune')
    await pruner.stop()
    expect(errors).toEqual([])
  })

  it('reports errors to onError and keeps running', async () => {
    const pruner = new Pruner({ pool: t.pool, schema: 'no_such_schema', onError, intervalMs: 20 })
    pruner.start()
    await waitFor(() => errors.length >= 2, 5_000, 'two reported errors')
    await pruner.stop()
    expect(errors[0]).toMatchObject({ code: '42P01' })
  })

  it('validates its options', () => {
    expect(() => new Pruner({ pool: t.pool, schema: t.schema, onError, batchSize: 0 })).toThrow(
      PgqValidationError,
    )
    expect(() => new Pruner({ pool: t.pool, schema: 'Bad-Schema', onError })).toThrow(/schema/)
  })
})
