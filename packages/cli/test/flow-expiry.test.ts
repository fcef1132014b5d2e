// Deadlines with real worker processes (docs/flow-control.md, "Expiry"): more work than the workers
// can start in time; the jobs that could not start by their deadline end `expired`, and no handler
// starts late. Assertions read the jobs table and the start times the handlers wrote themselves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import { createSideEffectTables, startWorkerProcess, type WorkerProcess } from './worker-process.js'

let t: TestSchema
const processes: WorkerProcess[] = []

beforeAll(async () => {
  t = await createTestSchema()
  await createSideEffectTables(t)
})
afterAll(async () => {
  for (const p of processes.splice(0)) {
    p.kill('SIGKILL')
    await p.exited
  }
  await t.drop()
})

describe('expiry (real worker processes)', () => {
  it('60 jobs of 200 ms that must start within 1 s, 4 slots: the late ones end expired, none starts late', async () => {
    const env = { DATABASE_URL: t.url, PGQ_SCHEMA: t.schema }
    for (let i = 0; i < 2; i++) {
      processes.push(
        await startWorkerProcess(
          ['--schema', t.schema, '--log-level', 'warn', '--concurrency', '2', '--expire-interval', '100'],
          env,
        ),
      )
    }
    // the workers are ready (started, tasks loaded): every deadline starts counting now
    await t.pgq.enqueueMany(
      Array.from({ length: 60 }, () => ({
        task: 'slow',
        payload: { ms: 200 },
        options: { expireInMs: 1_000 },
      })),
    )
    await waitFor(
      async () =>
        (
          await t.pool.query(
            `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state IN ('succeeded', 'expired')`,
          )
        ).rows[0].n === 60,
      30_000,
      'every job succeeded or expired',
    )
    const { rows } = await t.pool.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM "${t.schema}".jobs GROUP BY 1 ORDER BY 1`,
    )
    const by = Object.fromEntries(rows.map((r) => [r.state, r.n]))
    expect(by.expired).toBeGreaterThan(0)
    expect(by.succeeded).toBeGreaterThan(0)
    // no job was claimed after its deadline (the claim's own clock decides), and every handler that
    // ran belongs to a job claimed in time
    const late = await t.pool.query(
      `SELECT id FROM "${t.schema}".jobs WHERE started_at IS NOT NULL AND started_at >= expires_at`,
    )
    expect(late.rows).toEqual([])
    const ranLate = await t.pool.query(
      `SELECT r.job_id FROM "${t.schema}".runs r JOIN "${t.schema}".jobs j ON j.id = r.job_id
       WHERE j.started_at IS NULL OR j.started_at >= j.expires_at OR r.at < j.started_at`,
    )
    expect(ranLate.rows).toEqual([])
    // expired jobs never ran, and say why
    const expiredRuns = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}".runs r JOIN "${t.schema}".jobs j ON j.id = r.job_id WHERE j.state = 'expired'`,
    )
    expect(expiredRuns.rows[0].n).toBe(0)
    const reasons = await t.pool.query(
      `SELECT DISTINCT errors->-1->>'name' AS name FROM "${t.schema}".jobs WHERE state = 'expired'`,
    )
    expect(reasons.rows).toEqual([{ name: 'JobExpiredError' }])
  }, 60_000)
})
