// Worker rows outlive their workers (migration 0008): a graceful stop marks the row stopped, a stale
// heartbeat reads as lost, the pruner deletes rows gone for a day, and WorkerList tells them apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WorkerList } from '../src/admin/workers.js'
import { Pruner } from '../src/maintenance/pruner.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let list: WorkerList
beforeAll(async () => {
  t = await createTestSchema()
  list = new WorkerList({ pool: t.pool, schema: t.schema })
})
afterAll(async () => {
  await t.drop()
})

async function insertWorker(host: string, columns: string): Promise<void> {
  await t.pool.query(
    `INSERT INTO "${t.schema}".workers (id, hostname, pid, queues, concurrency, heartbeat_ms, started_at, heartbeat_at, stopped_at, stop_reason)
     VALUES (gen_random_uuid(), $1, 7, '{default}', 2, 1000, ${columns})`,
    [host],
  )
}

describe('worker history', () => {
  it('a running worker is alive with its running jobs; after a graceful stop it is listed as stopped', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const hold = defineTask({ name: 'hold', handler: () => gate })
    const worker = t.pgq.createWorker({ tasks: [hold], queues: { default: 3 }, pollIntervalMs: 50 })
    await t.pgq.enqueueMany([
      { task: 'hold', payload: {} },
      { task: 'hold', payload: {} },
    ])
    await worker.start()
    expect(worker.health).toMatchObject({ state: 'running', live: true, ready: true, fatal: null })
    const alive = await waitFor(async () => {
      const [w] = await list.alive()
      return w?.runningJobs === 2 && w
    })
    expect(alive).toMatchObject({ id: worker.id, pid: process.pid, queues: ['default'], concurrency: 3 })
    expect(alive.stoppedAt).toBeNull()
    release()
    await worker.stop()
    expect(worker.health).toMatchObject({ state: 'stopped', live: false, ready: false })
    expect(await list.alive()).toEqual([])
    const [gone] = await list.list()
    expect(gone).toMatchObject({ id: worker.id, status: 'stopped', runningJobs: 0 })
    expect(gone!.stoppedAt).toBeInstanceOf(Date)
  })

  it('a stale heartbeat reads as lost; gone rows past the window are not listed; the pruner deletes those gone a day', async () => {
    await t.pool.query(`DELETE FROM "${t.schema}".workers`)
    await insertWorker('fresh', `now(), now(), NULL, NULL`)
    await insertWorker('stale', `now() - interval '1 hour', now() - interval '20 seconds', NULL, NULL`)
    await insertWorker(
      'old-stop',
      `now() - interval '3 days', now() - interval '2 days', now() - interval '2 days', 'stopped'`,
    )
    await insertWorker('old-lost', `now() - interval '4 days', now() - interval '25 hours', NULL, NULL`)
    const hosts = async (goneWithinMs?: number) =>
      (await list.list(goneWithinMs === undefined ? {} : { goneWithinMs })).map(
        (w) => `${w.hostname}:${w.status}`,
      )
    expect(await hosts()).toEqual(['fresh:alive', 'stale:lost'])
    expect(await hosts(3 * 86_400_000)).toEqual([
      'fresh:alive',
      'stale:lost',
      'old-stop:stopped',
      'old-lost:lost',
    ])
    await new Pruner({ pool: t.pool, schema: t.schema, onError: () => {} }).pruneOnce()
    expect(await hosts(7 * 86_400_000)).toEqual(['fresh:alive', 'stale:lost'])
  })

  it('validates its options', async () => {
    expect(() => new WorkerList({ pool: {} as never, schema: 'pgq' })).toThrow(/pool: must be a pg.Pool/)
    await expect(list.list({ goneWithinMs: -1 })).rejects.toThrow(/goneWithinMs/)
  })
})
