import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobNotFoundError } from '../src/errors.js'
import { claimJobs, type FinalizeItem, finalizeJobs } from '../src/sql/worker-queries.js'
import { defineTask } from '../src/task/task.js'
import { chain, job, step } from '../src/workflow/canvas.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

// A final outcome kept for 0 ms (`deleteOnSuccess`, `retention: { failed: 0 }`) is deleted by the
// outcome statement itself: no pruner runs in these workers (maintenance: false), so a row that is
// gone was deleted by the completer. Retries, workflow nodes and lost leases are never deleted.

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.pgq.close()
  await t.drop()
})

async function rows(ids: readonly string[]): Promise<Array<{ id: string; state: string }>> {
  const { rows } = await t.pool.query(
    `SELECT id::text, state FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[]) ORDER BY id`,
    [ids],
  )
  return rows
}

describe('outcomes kept for 0 ms', () => {
  it('deleteOnSuccess deletes each succeeded job in its outcome statement; a waiter gets JobNotFoundError', async () => {
    const runs: number[] = []
    const ping = defineTask({
      name: 'ping',
      deleteOnSuccess: true,
      handler: async (p: { i: number }) => {
        runs.push(p.i)
      },
    })
    const worker = t.pgq.createWorker({ tasks: [ping], maintenance: false, pollIntervalMs: 100 })
    await worker.start()
    try {
      const jobs = await t.pgq.enqueueMany(
        Array.from({ length: 50 }, (_, i) => ({ task: ping, payload: { i } })),
      )
      const waited = t.pgq.jobs.waitFor(jobs[0]!.id, { timeoutMs: 10_000 }).catch((e: unknown) => e)
      const ids = jobs.map((j) => j.id)
      await waitFor(async () => (await rows(ids)).length === 0, 10_000, 'every succeeded job deleted')
      expect(runs.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
      expect(await waited).toBeInstanceOf(JobNotFoundError)
    } finally {
      await worker.stop()
    }
  })

  it('a retry keeps the row; a job that fails for good is kept unless its retention is 0 too', async () => {
    let calls = 0
    const flaky = defineTask({
      name: 'flaky_del',
      deleteOnSuccess: true,
      retry: { baseDelayMs: 50, jitter: 0 },
      handler: async () => {
        calls++
        if (calls === 1) throw new Error('first run fails')
      },
    })
    const doomed = defineTask({
      name: 'doomed_del',
      deleteOnSuccess: true,
      maxAttempts: 1,
      handler: async () => {
        throw new Error('always')
      },
    })
    const worker = t.pgq.createWorker({ tasks: [flaky, doomed], maintenance: false, pollIntervalMs: 100 })
    await worker.start()
    try {
      const a = await t.pgq.enqueue(flaky, {})
      const b = await t.pgq.enqueue(doomed, {})
      await waitFor(
        async () => (await rows([a.id])).length === 0,
        10_000,
        'the retried job to succeed and go',
      )
      expect(calls).toBe(2) // the failed first attempt was not deleted: it ran again
      await waitFor(async () => (await rows([b.id]))[0]?.state === 'failed', 10_000, 'the doomed job to fail')
    } finally {
      await worker.stop()
    }

    const dropFailed = t.pgq.createWorker({
      tasks: [doomed],
      maintenance: false,
      pollIntervalMs: 100,
      retention: { failed: 0 },
    })
    await dropFailed.start()
    try {
      const c = await t.pgq.enqueue(doomed, {})
      await expect(t.pgq.jobs.waitFor(c.id, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(Error)
      await waitFor(async () => (await rows([c.id])).length === 0, 10_000, 'the failed job deleted')
    } finally {
      await dropFailed.stop()
    }
  })

  it('workflow nodes are kept for the fan-in and the next step, then left to the pruner', async () => {
    const plusOne = defineTask({
      name: 'plus_one_del',
      deleteOnSuccess: true,
      handler: async (n: number) => n + 1,
    })
    const worker = t.pgq.createWorker({ tasks: [plusOne], maintenance: false, pollIntervalMs: 100 })
    await worker.start()
    try {
      const wf = await t.pgq.workflows.create(chain(job(plusOne, 1), step(plusOne), step(plusOne)))
      await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 10_000 })).resolves.toBe(4)
      const info = await t.pgq.workflows.get(wf.id)
      expect(info!.nodes.map((n) => [n.state, n.result])).toEqual([
        ['succeeded', 2],
        ['succeeded', 3],
        ['succeeded', 4],
      ])
    } finally {
      await worker.stop()
    }
  })

  it('a follow-up queued while the job ran is released when the row is deleted', async () => {
    const seen: number[] = []
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const sync = defineTask({
      name: 'sync_del',
      deleteOnSuccess: true,
      handler: async (p: { v: number }) => {
        seen.push(p.v)
        if (p.v === 1) await gate
      },
    })
    const worker = t.pgq.createWorker({ tasks: [sync], maintenance: false, pollIntervalMs: 100 })
    await worker.start()
    try {
      await t.pgq.enqueue(sync, { v: 1 }, { dedupKey: 'k' })
      await waitFor(() => seen.length === 1, 10_000, 'the first job to start')
      const queued = await t.pgq.enqueue(sync, { v: 2 }, { dedupKey: 'k', dedupMode: 'replace' })
      expect(queued.outcome).toBe('queued_after')
      release()
      await waitFor(() => seen.length === 2, 10_000, 'the follow-up to run')
      expect(seen).toEqual([1, 2])
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT 1 FROM "${t.schema}".jobs WHERE task = 'sync_del'`)).rowCount === 0,
        10_000,
        'both jobs deleted',
      )
    } finally {
      release()
      await worker.stop()
    }
  })

  it('is fenced: an outcome under a lost lease deletes nothing', async () => {
    await t.pgq.enqueue('fenced_del', {})
    const [claimed] = await claimJobs(t.pool, t.pgq.names, {
      queue: 'default',
      limit: 1,
      workerId: '00000000-0000-4000-8000-0000000000d1',
      leaseMs: 60_000,
      tasks: ['fenced_del'],
    })
    // the lease passed to another run (as the rescuer and a new claim would do)
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [
      claimed!.id,
    ])
    const item: FinalizeItem = {
      id: claimed!.id,
      leaseToken: claimed!.leaseToken,
      state: 'succeeded',
      result: null,
      error: null,
      delayMs: 0,
      refundAttempt: false,
      retentionMs: 0,
      queue: null,
    }
    const written = await finalizeJobs(t.pool, t.pgq.names, [item], 10)
    expect(written.size).toBe(0)
    expect(await rows([claimed!.id])).toEqual([{ id: claimed!.id, state: 'running' }])
  })
})
