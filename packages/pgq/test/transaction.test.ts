// ctx.transaction: the handler's writes and the job's completion commit together, fenced by the
// lease; a rollback leaves neither; the completer does not write the outcome again.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { JobTransactionError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import { AttemptEndedError } from '../src/worker/isolation/errors.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
const workers: Worker[] = []

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(`CREATE TABLE "${t.schema}".orders (id int PRIMARY KEY, paid_by bigint)`)
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs; DELETE FROM "${t.schema}".orders`)
})
afterAll(async () => {
  await t.drop()
})

async function start(tasks: Parameters<typeof t.pgq.createWorker>[0]['tasks'], extra = {}): Promise<Worker> {
  const worker = t.pgq.createWorker({ tasks, pollIntervalMs: 100, concurrency: 1, ...extra })
  workers.push(worker)
  await worker.start()
  return worker
}

async function job(id: string) {
  return (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
}

async function orders(): Promise<{ id: number; paid_by: string }[]> {
  return (await t.pool.query(`SELECT id, paid_by FROM "${t.schema}".orders ORDER BY id`)).rows
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}

const fast = { retry: { baseDelayMs: 0, jitter: 0 } } as const

describe('ctx.transaction', () => {
  it("commits the handler's write and the job's success together, and writes the outcome once", async () => {
    const pay = defineTask({
      name: 'pay_order',
      handler: (payload: { orderId: number }, ctx) =>
        ctx.transaction(async (tx) => {
          await tx.query(`INSERT INTO "${t.schema}".orders (id, paid_by) VALUES ($1, $2)`, [
            payload.orderId,
            ctx.jobId,
          ])
          return { paid: payload.orderId }
        }),
    })
    const worker = await start([pay])
    const events: string[] = []
    worker.on('job:succeeded', () => events.push('succeeded'))
    worker.on('job:lease-lost', () => events.push('lease-lost'))
    const { id } = await t.pgq.enqueue(pay, { orderId: 7 })
    expect(await t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).toEqual({ paid: 7 })
    await waitFor(() => events.length > 0, 5_000, 'job event')
    expect(events).toEqual(['succeeded'])
    expect(await orders()).toEqual([{ id: 7, paid_by: id }])
    const row = await job(id)
    expect(row.state).toBe('succeeded')
    expect(row.lease_token).toBeNull()
    expect(row.attempts).toBe(1)
  })

  it('rolls back and rejects with JobTransactionError when the lease was lost before the commit', async () => {
    const inside = gate()
    const proceed = gate()
    let refused: unknown
    const pay = defineTask({
      name: 'pay_stolen',
      handler: async (payload: { orderId: number }, ctx) => {
        try {
          return await ctx.transaction(async (tx) => {
            await tx.query(`INSERT INTO "${t.schema}".orders (id, paid_by) VALUES ($1, $2)`, [
              payload.orderId,
              ctx.jobId,
            ])
            inside.open()
            await proceed.wait
            return 'paid'
          })
        } catch (error) {
          refused = error
          throw error
        }
      },
    })
    // a heartbeat slower than the test: the fenced finalize is what finds the lease gone
    await start([pay], { leaseMs: 60_000 })
    const { id } = await t.pgq.enqueue(pay, { orderId: 8 })
    await inside.wait
    // another worker took the job over: a rescue and a new claim give it a new lease token
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [id])
    proceed.open()
    await waitFor(() => refused !== undefined, 5_000, 'transaction refused')
    expect(refused).toBeInstanceOf(JobTransactionError)
    expect((refused as JobTransactionError).reason).toBe('lease-lost')
    expect(await orders()).toEqual([])
    const row = await job(id)
    expect(row.state).toBe('running') // the new holder's to finish
    expect(row.result).toBeNull()
  })

  it('a callback that throws rolls back; the retry commits exactly one write', async () => {
    const pay = defineTask({
      name: 'pay_flaky',
      ...fast,
      handler: (payload: { orderId: number }, ctx) =>
        ctx.transaction(async (tx) => {
          await tx.query(`INSERT INTO "${t.schema}".orders (id, paid_by) VALUES ($1, $2)`, [
            payload.orderId,
            ctx.attempt,
          ])
          if (ctx.attempt === 1) throw new Error('gateway timeout')
          return ctx.attempt
        }),
    })
    await start([pay])
    const { id } = await t.pgq.enqueue(pay, { orderId: 9 })
    expect(await t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).toBe(2)
    expect(await orders()).toEqual([{ id: 9, paid_by: '2' }])
    const row = await job(id)
    expect(row.errors.map((e: { message: string }) => e.message)).toEqual(['gateway timeout'])
  })

  it('enqueues on tx commit with it; a second transaction and later steps are refused', async () => {
    let second: unknown
    let step: unknown
    const follow = defineTask({ name: 'receipt', handler: () => {} })
    const pay = defineTask({
      name: 'pay_then_more',
      handler: async (payload: { orderId: number }, ctx) => {
        const value = await ctx.transaction(async (tx) => {
          await tx.query(`INSERT INTO "${t.schema}".orders (id, paid_by) VALUES ($1, 0)`, [payload.orderId])
          await t.pgq.enqueue(follow, {}, { db: tx, runAt: new Date(Date.now() + 3_600_000) })
          return 'done'
        })
        second = await ctx.transaction(() => 'again').catch((e) => e)
        step = await ctx.step('late', () => 1).catch((e) => e)
        return value
      },
    })
    await start([pay])
    const { id } = await t.pgq.enqueue(pay, { orderId: 10 })
    expect(await t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).toBe('done')
    // the commit finished the job (and woke waitFor); the handler goes on after it
    await waitFor(() => step !== undefined, 10_000, 'the handler tried a second transaction and a step')
    expect(second).toBeInstanceOf(JobTransactionError)
    expect(step).toBeInstanceOf(AttemptEndedError)
    const receipts = await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE task = 'receipt'`)
    expect(receipts.rows).toEqual([{ state: 'available' }])
  })

  it('a handler that throws after the commit leaves the job succeeded', async () => {
    const pay = defineTask({
      name: 'pay_then_throw',
      handler: async (payload: { orderId: number }, ctx) => {
        await ctx.transaction(async (tx) => {
          await tx.query(`INSERT INTO "${t.schema}".orders (id, paid_by) VALUES ($1, 0)`, [payload.orderId])
          return 'committed'
        })
        throw new Error('after the commit')
      },
    })
    await start([pay])
    const { id } = await t.pgq.enqueue(pay, { orderId: 11 })
    expect(await t.pgq.jobs.waitFor(id, { timeoutMs: 10_000 })).toBe('committed')
    expect((await job(id)).errors).toEqual([])
    expect(await orders()).toHaveLength(1)
  })
})
