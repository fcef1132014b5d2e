// The JobExpirer driven directly (no worker): only overdue waiting jobs end `expired`, in batches,
// once, with any number of expirers at once; the end is announced to waiters and counted down in
// workflows; prune and retry know the state.
import type pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ResultWaiter } from '../src/client/result-waiter.js'
import { JobExpiredError } from '../src/errors.js'
import { JobExpirer } from '../src/maintenance/job-expirer.js'
import type { ExpiredBatch } from '../src/sql/expiry-queries.js'
import { chord, chordSettled, group, job, step } from '../src/workflow/canvas.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import { jobRow, markRunning } from './worker-simulation.js'

let t: TestSchema
let listener: pg.Client
const events: string[] = []

beforeAll(async () => {
  t = await createTestSchema()
  listener = await t.client()
  listener.on('notification', (n) => events.push(n.payload ?? ''))
  await listener.query(`LISTEN "${t.schema}:events"`)
})
beforeEach(async () => {
  await t.pool.query(`TRUNCATE "${t.schema}".jobs CASCADE`)
  events.length = 0
})
afterAll(async () => {
  await t.pgq.close()
  await t.drop()
})

/** Enqueues through enqueue_many (the TS enqueue options for deadlines live elsewhere); returns ids. */
async function enqueueSql(jobs: readonly Record<string, unknown>[]): Promise<string[]> {
  const { rows } = await t.pool.query<{ id: string }>(
    `SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb) ORDER BY ord`,
    [JSON.stringify(jobs)],
  )
  return rows.map((r) => r.id)
}

const PAST = '2000-01-01T00:00:00Z'

function expirer(options: { batchSize?: number; retentionMs?: number | null } = {}) {
  const batches: ExpiredBatch[] = []
  const instance = new JobExpirer({
    pool: t.pool,
    names: t.pgq.names,
    intervalMs: 60_000,
    retentionMs: options.retentionMs === undefined ? 3_600_000 : options.retentionMs,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    onExpired: (batch) => batches.push(batch),
    onError: (_component, error) => {
      throw error
    },
  })
  return { instance, batches }
}

const stateOf = async (id: string) => (await jobRow(t, id))?.state

describe('JobExpirer', () => {
  it('ends only waiting jobs past their deadline: not running, not future-deadline, not blocked, not undated', async () => {
    const [overdue, future, undated, running] = await enqueueSql([
      { task: 'late', queue: 'mail', expires_at: PAST },
      { task: 'late', expire_in_ms: 3_600_000 },
      { task: 'late' },
      { task: 'late' },
    ])
    await markRunning(t, running!)
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_chain('[{"task":"parent"},{"task":"child"}]')::text AS id`,
    )
    const [parent, blocked] = (await t.pgq.workflows.get(rows[0]!.id))!.nodes.map((n) => n.id)
    // a passed deadline on a running job (it started in time) and on a blocked node (it cannot start yet)
    await t.pool.query(`UPDATE "${t.schema}".jobs SET expires_at = $2 WHERE id = ANY($1::bigint[])`, [
      [running, blocked],
      PAST,
    ])

    const { instance, batches } = expirer()
    expect(await instance.expireOnce()).toBe(1)
    expect(batches).toEqual([{ expired: 1, byQueue: { mail: 1 } }])
    const row = await jobRow(t, overdue!)
    expect(row).toMatchObject({ state: 'expired', attempts: 0, started_at: null })
    expect(row!.finished_at).toBeInstanceOf(Date)
    const retainedMs = (row!.delete_after as Date).getTime() - (row!.finished_at as Date).getTime()
    expect(retainedMs).toBeGreaterThan(3_590_000)
    expect(retainedMs).toBeLessThanOrEqual(3_600_000)
    expect(row!.errors).toEqual([
      {
        attempt: 0,
        at: expect.any(String),
        name: 'JobExpiredError',
        message: expect.stringMatching(/^expired: not started by its deadline 2000-01-01/),
      },
    ])
    expect(await stateOf(future!)).toBe('available')
    expect(await stateOf(undated!)).toBe('available')
    expect(await stateOf(running!)).toBe('running')
    expect(await stateOf(parent!)).toBe('available')
    expect(await stateOf(blocked!)).toBe('blocked')
    await waitFor(() => events.includes(`finished:${overdue}`), 5_000, 'the finished announcement')
  })

  it('works in batches until one comes back short, and a second pass finds nothing', async () => {
    const ids = await enqueueSql(
      Array.from({ length: 7 }, (_, i) => ({
        task: 'late',
        queue: i < 4 ? 'a' : 'b',
        expires_at: new Date(Date.UTC(2000, 0, 1, 0, 0, 7 - i)).toISOString(), // the last job is the most overdue
      })),
    )
    const { instance, batches } = expirer({ batchSize: 3, retentionMs: null })
    expect(await instance.expireOnce()).toBe(7)
    // the most overdue first: the first batch is queue b only
    expect(batches).toEqual([
      { expired: 3, byQueue: { b: 3 } },
      { expired: 3, byQueue: { a: 3 } },
      { expired: 1, byQueue: { a: 1 } },
    ])
    expect(await instance.expireOnce()).toBe(0)
    expect(batches).toHaveLength(3)
    const { rows } = await t.pool.query(
      `SELECT state, delete_after, jsonb_array_length(errors) AS errors FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[])`,
      [ids],
    )
    expect(rows).toEqual(
      Array.from({ length: 7 }, () => ({ state: 'expired', delete_after: null, errors: 1 })),
    )
  })

  it('two expirers at once expire each job exactly once, and a locked row is skipped, not waited for', async () => {
    const ids = await enqueueSql(Array.from({ length: 300 }, () => ({ task: 'late', expires_at: PAST })))
    const holder = await t.pool.connect()
    try {
      await holder.query('BEGIN')
      await holder.query(`SELECT 1 FROM "${t.schema}".jobs WHERE id = $1 FOR UPDATE`, [ids[0]])
      const [a, b] = [expirer({ batchSize: 20 }), expirer({ batchSize: 20 })]
      const counts = await Promise.all([a.instance.expireOnce(), b.instance.expireOnce()])
      expect(counts[0] + counts[1]).toBe(299)
      expect(await stateOf(ids[0]!)).toBe('available')
      await holder.query('ROLLBACK')
    } finally {
      holder.release()
    }
    expect(await expirer().instance.expireOnce()).toBe(1)
    const { rows } = await t.pool.query(
      `SELECT state, jsonb_array_length(errors) AS errors, count(*)::int AS n FROM "${t.schema}".jobs GROUP BY 1, 2`,
    )
    expect(rows).toEqual([{ state: 'expired', errors: 1, n: 300 }])
  })

  it('waitFor on a job that expires rejects with JobExpiredError', async () => {
    const [id] = await enqueueSql([{ task: 'late', expire_in_ms: 3_600_000 }])
    // no fallback poll within the test: the finished announcement settles the wait
    const waiter = new ResultWaiter({ pool: t.pool, schema: t.schema, pollIntervalMs: 600_000 })
    try {
      const waiting = waiter.wait(id!).catch((error: unknown) => error)
      await t.pool.query(`UPDATE "${t.schema}".jobs SET expires_at = now() WHERE id = $1`, [id])
      await expirer().instance.expireOnce()
      const error = await waiting
      expect(error).toBeInstanceOf(JobExpiredError)
      expect(error).toMatchObject({ code: 'PGQ_JOB_EXPIRED', jobId: id, task: 'late' })
      // a wait that starts after the expiry rejects the same way
      await expect(t.pgq.jobs.waitFor(id!)).rejects.toBeInstanceOf(JobExpiredError)
    } finally {
      await waiter.close()
    }
  })

  it('the pruner deletes expired jobs past their retention', async () => {
    const [kept, due] = await enqueueSql([
      { task: 'late', expires_at: PAST },
      { task: 'late', expires_at: PAST },
    ])
    await expirer().instance.expireOnce()
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET delete_after = now() - interval '1 second' WHERE id = $1`,
      [due],
    )
    const { Pruner } = await import('../src/maintenance/pruner.js')
    const pruner = new Pruner({ pool: t.pool, schema: t.schema, onError: () => {} })
    expect(await pruner.pruneOnce()).toBe(1)
    expect(await stateOf(kept!)).toBe('expired')
    expect(await jobRow(t, due!)).toBeUndefined()
  })
})

describe('expired workflow nodes', () => {
  it('an expired node counts as failed: policy cancel cancels its dependants', async () => {
    const wf = await t.pgq.workflows.create(
      chord(
        group(job<number, number>('ghost', 1), job<number, number>('ghost', 2)),
        step<number[], number>('sum'),
      ),
    )
    const [first, , callback] = (await t.pgq.workflows.get(wf.id))!.nodes.map((n) => n.id)
    await t.pool.query(`UPDATE "${t.schema}".jobs SET expires_at = $2 WHERE id = $1`, [first, PAST])
    expect(await expirer().instance.expireOnce()).toBe(1)
    const info = await t.pgq.workflows.get(wf.id)
    expect(info?.nodes.map((n) => n.state)).toEqual(['expired', 'available', 'cancelled'])
    expect(info?.nodes[2]?.errors).toEqual([expect.objectContaining({ name: 'DependencyFailedError' })])
    // notifications arrive on the listener's own connection, asynchronously
    await waitFor(() => events.includes(`finished:${callback}`), 5_000, 'the cancelled callback announced')
    // the workflow is over once the live member ends too
    expect(info?.state).toBe('running')
    await t.pgq.jobs.cancel(info!.nodes[1]!.id)
    expect((await t.pgq.workflows.get(wf.id))?.state).toBe('failed')
  })

  it('policy continue: the callback gets the expiry as an error entry in its member slot', async () => {
    const wf = await t.pgq.workflows.create(
      chordSettled(group(job<number, number>('ghost', 1), job<number, number>('ghost', 2)), step('collect')),
    )
    const nodes = (await t.pgq.workflows.get(wf.id))!.nodes
    await t.pool.query(`UPDATE "${t.schema}".jobs SET expires_at = $2 WHERE id = ANY($1::bigint[])`, [
      [nodes[0]!.id, nodes[1]!.id],
      PAST,
    ])
    expect(await expirer().instance.expireOnce()).toBe(2)
    const callback = await jobRow(t, nodes[2]!.id)
    expect(callback?.state).toBe('available')
    const slot = {
      ok: false,
      error: expect.objectContaining({
        name: 'JobExpiredError',
        message: expect.stringMatching(/^expired:/),
      }),
    }
    expect(callback?.payload).toEqual([slot, slot])
  })

  it('retrying an expired node resumes the graph: its cancelled dependant waits for it again', async () => {
    const wf = await t.pgq.workflows.create(
      chord(group(job<number, number>('ghost', 1)), step<number[], number>('sum')),
    )
    const [member, callback] = (await t.pgq.workflows.get(wf.id))!.nodes.map((n) => n.id)
    await t.pool.query(`UPDATE "${t.schema}".jobs SET expires_at = $2 WHERE id = $1`, [member, PAST])
    await expirer().instance.expireOnce()
    expect(await stateOf(callback!)).toBe('cancelled')
    await expect(t.pgq.jobs.retry(member!)).resolves.toEqual({ retried: 1 })
    expect(await jobRow(t, member!)).toMatchObject({ state: 'available', expires_at: null })
    expect(await stateOf(callback!)).toBe('blocked')
  })
})
