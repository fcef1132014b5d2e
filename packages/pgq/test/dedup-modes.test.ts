import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EnqueuedJob } from '../src/client/enqueue.js'
import { PgqValidationError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import { markFailed, markRunning, markSucceeded } from './worker-simulation.js'

let t: TestSchema

beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

async function keyed(task: string, key: string) {
  const result = await t.pool.query(
    `SELECT id::text, state, payload, followup, run_at, started_at, finished_at
     FROM "${t.schema}".jobs WHERE task = $1 AND dedup_key = $2 ORDER BY id`,
    [task, key],
  )
  return result.rows
}

/** Resolves once `client`'s backend waits on a lock (so a concurrent step is known to be blocked). */
async function waitUntilBlocked(client: pg.Client): Promise<void> {
  const pid = (client as unknown as { processID: number }).processID
  await waitFor(
    async () => {
      const { rows } = await t.pool.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [
        pid,
      ])
      return rows[0]?.wait_event_type === 'Lock'
    },
    10_000,
    'the second enqueue to wait on a lock',
  )
}

describe('replace against a running job', () => {
  it('queues the new payload to run after the running job, as a new job (the latest payload wins)', async () => {
    const order: number[] = []
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const sync = defineTask({
      name: 'sync',
      handler: async (p: { v: number }) => {
        order.push(p.v)
        if (p.v === 1) await gate
      },
    })
    const worker = t.pgq.createWorker({ tasks: [sync], pollIntervalMs: 100 })
    await worker.start()
    try {
      const first = await t.pgq.enqueue(sync, { v: 1 }, { dedupKey: 'crm:7' })
      await waitFor(() => order.length === 1, 10_000, 'the first job to start')
      const options = { dedupKey: 'crm:7', dedupMode: 'replace' } as const
      const second = await t.pgq.enqueue(sync, { v: 2 }, options)
      const third = await t.pgq.enqueue(sync, { v: 3 }, options)
      expect(second).toEqual({ id: first.id, deduplicated: true, outcome: 'queued_after' })
      expect(third).toEqual({ id: first.id, deduplicated: true, outcome: 'queued_after' })
      expect(order).toEqual([1]) // nothing runs beside the running job
      release()
      await waitFor(
        async () => {
          const rows = await keyed('sync', 'crm:7')
          return rows.length === 2 && rows.every((r) => r.state === 'succeeded')
        },
        10_000,
        'the follow-up to run',
      )
      expect(order).toEqual([1, 3])
      const [a, b] = await keyed('sync', 'crm:7')
      expect(a.followup).toBeNull()
      expect(b.payload).toEqual({ v: 3 })
      expect(b.started_at.getTime()).toBeGreaterThanOrEqual(a.finished_at.getTime())
    } finally {
      release()
      await worker.stop({ graceMs: 1_000 })
    }
  })

  it('the follow-up is released when the running job fails, is cancelled, or is deleted', async () => {
    for (const [key, end] of [
      ['f', (id: string) => markFailed(t, id, ['boom'])],
      [
        'c',
        (id: string) =>
          t.pool.query(
            `UPDATE "${t.schema}".jobs SET state = 'cancelled', finished_at = now(), locked_by = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = $1`,
            [id],
          ),
      ],
      ['d', (id: string) => t.pool.query(`DELETE FROM "${t.schema}".jobs WHERE id = $1`, [id])],
    ] as const) {
      const { id } = await t.pgq.enqueue('ended', { v: 1 }, { dedupKey: key })
      await markRunning(t, id)
      const queued = await t.pgq.enqueue(
        'ended',
        { v: 2 },
        { dedupKey: key, dedupMode: 'replace', priority: 5 },
      )
      expect(queued.outcome).toBe('queued_after')
      await end(id)
      const live = (await keyed('ended', key)).filter((r) => r.state === 'available')
      expect(live.map((r) => r.payload)).toEqual([{ v: 2 }])
    }
  })

  it('a running job sent back to wait for a retry keeps its follow-up; a newer replace supersedes both', async () => {
    const { id } = await t.pgq.enqueue('retried', { v: 1 }, { dedupKey: 'k' })
    await markRunning(t, id)
    await t.pgq.enqueue('retried', { v: 2 }, { dedupKey: 'k', dedupMode: 'replace' })
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'available', locked_by = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = $1`,
      [id],
    )
    const replaced = await t.pgq.enqueue('retried', { v: 3 }, { dedupKey: 'k', dedupMode: 'replace' })
    expect(replaced).toMatchObject({ id, outcome: 'replaced' })
    await markRunning(t, id)
    await markSucceeded(t, id, null)
    const rows = await keyed('retried', 'k')
    expect(rows.map((r) => [r.state, r.payload])).toEqual([['succeeded', { v: 3 }]])
  })
})

describe('debounce', () => {
  it('the last payload wins and each enqueue pushes the run time to a quiet window after it', async () => {
    const options = { dedupKey: 'search:1', dedupMode: 'debounce', dedupWindowMs: 60_000 } as const
    const results: EnqueuedJob[] = []
    const runAts: number[] = []
    for (const v of [1, 2, 3]) {
      results.push(await t.pgq.enqueue('reindex', { v }, options))
      const [row] = await keyed('reindex', 'search:1')
      const ahead = await t.pool.query(`SELECT extract(epoch FROM $1::timestamptz - now()) * 1000 AS ms`, [
        row.run_at,
      ])
      expect(Number(ahead.rows[0].ms)).toBeGreaterThan(55_000)
      runAts.push(row.run_at.getTime())
    }
    expect(results.map((r) => r.outcome)).toEqual(['created', 'replaced', 'replaced'])
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
    expect(runAts[2]).toBeGreaterThan(runAts[0]!)
    expect((await keyed('reindex', 'search:1')).map((r) => r.payload)).toEqual([{ v: 3 }])
  })

  it('two enqueues at once leave one waiting job with the payload of the one that committed last', async () => {
    const [a, b] = [await t.client(), await t.client()]
    const options = { dedupKey: 'race', dedupMode: 'debounce', dedupWindowMs: 60_000 } as const
    await a.query('BEGIN')
    await b.query('BEGIN')
    const first = await t.pgq.enqueue('reindex', { from: 'a' }, { ...options, db: a })
    const second = t.pgq.enqueue('reindex', { from: 'b' }, { ...options, db: b })
    await waitUntilBlocked(b)
    await a.query('COMMIT')
    const late = await second
    await b.query('COMMIT')
    expect([first.outcome, late.outcome]).toEqual(['created', 'replaced'])
    expect(late.id).toBe(first.id)
    expect((await keyed('reindex', 'race')).map((r) => r.payload)).toEqual([{ from: 'b' }])
  })
})

describe('throttle', () => {
  const options = { dedupKey: 'report:9', dedupMode: 'throttle', dedupWindowMs: 60_000 } as const

  it('at most one job per window: later ones are reported as throttled with that job, even once it finished', async () => {
    const first = await t.pgq.enqueue('report', { v: 1 }, options)
    const second = await t.pgq.enqueue('report', { v: 2 }, options)
    expect(first.outcome).toBe('created')
    expect(second).toEqual({ id: first.id, deduplicated: true, outcome: 'throttled' })
    await markRunning(t, first.id)
    await markSucceeded(t, first.id, null)
    const third = await t.pgq.enqueue('report', { v: 3 }, options)
    expect(third).toEqual({ id: first.id, deduplicated: true, outcome: 'throttled' })
    expect((await keyed('report', 'report:9')).map((r) => r.payload)).toEqual([{ v: 1 }])
  })

  it('a new job once the window has passed, by the database clock', async () => {
    const short = { dedupKey: 'short', dedupMode: 'throttle', dedupWindowMs: 300 } as const
    const first = await t.pgq.enqueue('report', {}, short)
    await markRunning(t, first.id)
    await markSucceeded(t, first.id, null)
    await waitFor(
      async () => {
        const { rows } = await t.pool.query(
          `SELECT until < now() AS over FROM "${t.schema}".dedup_windows WHERE task = 'report' AND dedup_key = 'short'`,
        )
        return rows[0]?.over
      },
      10_000,
      'the window to pass',
    )
    const next = await t.pgq.enqueue('report', {}, short)
    expect(next.outcome).toBe('created')
    expect(next.id).not.toBe(first.id)
  })

  it('ten enqueues at once create one job; the others are throttled with its id', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => t.client()))
    const race = { dedupKey: 'burst', dedupMode: 'throttle', dedupWindowMs: 60_000 } as const
    const results = await Promise.all(
      clients.map(async (db, i) => {
        await db.query('BEGIN')
        const job = await t.pgq.enqueue('report', { i }, { ...race, db })
        await db.query('COMMIT')
        return job
      }),
    )
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1)
    expect(results.filter((r) => r.outcome === 'throttled')).toHaveLength(9)
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
    expect(await keyed('report', 'burst')).toHaveLength(1)
  })

  it('a window opened by a transaction that rolls back does not throttle the one waiting behind it', async () => {
    const [a, b] = [await t.client(), await t.client()]
    const race = { dedupKey: 'rollback', dedupMode: 'throttle', dedupWindowMs: 60_000 } as const
    await a.query('BEGIN')
    await t.pgq.enqueue('report', { from: 'a' }, { ...race, db: a })
    const second = t.pgq.enqueue('report', { from: 'b' }, { ...race, db: b })
    await waitUntilBlocked(b)
    await a.query('ROLLBACK')
    expect((await second).outcome).toBe('created')
    expect((await keyed('report', 'rollback')).map((r) => r.payload)).toEqual([{ from: 'b' }])
  })
})

describe('dedup options are validated', () => {
  it('debounce and throttle need a key and a window; the window is theirs only', async () => {
    await expect(t.pgq.enqueue('x', {}, { dedupKey: 'k', dedupMode: 'debounce' })).rejects.toMatchObject({
      path: 'options.dedupWindowMs',
    })
    await expect(t.pgq.enqueue('x', {}, { dedupMode: 'throttle', dedupWindowMs: 10 })).rejects.toMatchObject({
      path: 'options.dedupKey',
    })
    await expect(t.pgq.enqueue('x', {}, { dedupKey: 'k', dedupWindowMs: 10 })).rejects.toBeInstanceOf(
      PgqValidationError,
    )
    await expect(
      t.pgq.enqueue('x', {}, { dedupKey: 'k', dedupMode: 'throttle', dedupWindowMs: 0 }),
    ).rejects.toBeInstanceOf(PgqValidationError)
    await expect(
      t.pool.query(
        `SELECT * FROM "${t.schema}".enqueue_many('[{"task":"x","dedup_key":"k","dedup_mode":"throttle"}]')`,
      ),
    ).rejects.toMatchObject({ code: '22023' })
    await expect(
      t.pool.query(`SELECT "${t.schema}".enqueue('x', dedup_key => 'k', dedup_mode => 'sometimes')`),
    ).rejects.toMatchObject({ code: '22023' })
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE task = 'x'`)
    expect(rows[0].n).toBe(0)
  })

  it('SQL enqueue() takes the mode and its window as an interval', async () => {
    const sql = `SELECT "${t.schema}".enqueue('sqlthrottle', '{}', dedup_key => 'k', dedup_mode => 'throttle', dedup_window => interval '1 minute') AS id`
    const a = await t.pool.query(sql)
    const b = await t.pool.query(sql)
    expect(b.rows[0].id).toBe(a.rows[0].id)
    expect(await keyed('sqlthrottle', 'k')).toHaveLength(1)
  })
})
