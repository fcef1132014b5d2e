import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimJobs, type FinalizeItem } from '../src/sql/worker-queries.js'
import { JobCompleter } from '../src/worker/job-completer.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

async function claimOne(): Promise<FinalizeItem> {
  await t.pgq.enqueue('noop', {})
  const [row] = await claimJobs(t.pool, t.pgq.names, {
    queue: 'default',
    limit: 1,
    workerId: '00000000-0000-4000-8000-000000000001',
    leaseMs: 60_000,
    tasks: ['noop'],
  })
  return {
    id: row!.id,
    leaseToken: row!.lease_token,
    state: 'succeeded',
    result: null,
    error: null,
    delayMs: 0,
    refundAttempt: false,
    retentionMs: null,
    queue: null,
  }
}

describe('JobCompleter', () => {
  it('writes an outcome pushed at any moment around the end of a drain (no outcome is left behind)', async () => {
    // Push the second outcome from the first one's write callback, after 0…12 microtask hops: one
    // of them lands between the drain's last look at its buffer and the drain settling.
    for (let hops = 0; hops <= 12; hops += 1) {
      const written: string[] = []
      const first = await claimOne()
      const second = await claimOne()
      const completer = new JobCompleter({
        pool: t.pool,
        names: t.pgq.names,
        maxErrorsKept: 20,
        preparedStatements: true,
        onWritten: (item) => {
          written.push(item.id)
          if (item.id !== first.id) return
          let step = () => completer.push(second)
          for (let i = 0; i < hops; i += 1) {
            const next = step
            step = () => queueMicrotask(next)
          }
          step()
        },
        onError: (_component, error) => {
          throw error
        },
      })
      completer.start()
      completer.push(first)
      await waitFor(() => written.includes(second.id), 5_000, `second outcome written (${hops} hops)`)
      await completer.stop()
    }
  })

  it('reports an outcome whose lease was lost as not written', async () => {
    const item = await claimOne()
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [
      item.id,
    ])
    const results: boolean[] = []
    const completer = new JobCompleter({
      pool: t.pool,
      names: t.pgq.names,
      maxErrorsKept: 20,
      preparedStatements: false,
      onWritten: (_item, written) => results.push(written),
      onError: () => {},
    })
    completer.start()
    completer.push(item)
    await waitFor(() => results.length === 1, 5_000, 'write attempted')
    expect(results).toEqual([false])
    const row = (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [item.id])).rows[0]
    expect(row.state).toBe('running') // the new holder's run is untouched
    await completer.stop()
  })
})
