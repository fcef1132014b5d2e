// Durable steps in one worker process: results kept across retries, names and results validated,
// the lease fences every step write, thread and process isolation refuse steps.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defineTask } from '../src/task/task.js'
import { AttemptEndedError } from '../src/worker/isolation/errors.js'
import type { Worker } from '../src/worker/worker.js'
import * as fixture from './fixtures/isolated-tasks.mjs'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
const workers: Worker[] = []

beforeAll(async () => {
  t = await createTestSchema()
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
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

async function finished(id: string) {
  return waitFor(
    async () => {
      const row = await job(id)
      return ['succeeded', 'failed', 'cancelled'].includes(row.state) ? row : undefined
    },
    10_000,
    `job ${id} finished`,
  )
}

const fast = { retry: { baseDelayMs: 0, jitter: 0 } } as const

describe('ctx.step', () => {
  it('a retry gets the stored results back and runs only the steps not done', async () => {
    const ran: string[] = []
    const flaky = defineTask({
      name: 'flaky_steps',
      ...fast,
      handler: async (_p: object, ctx) => {
        const a = await ctx.step('a', () => {
          ran.push(`a#${ctx.attempt}`)
          return { n: 1 }
        })
        const nothing = await ctx.step('nothing', () => {
          ran.push(`nothing#${ctx.attempt}`)
        })
        const b = await ctx.step('b', () => {
          ran.push(`b#${ctx.attempt}`)
          if (ctx.attempt === 1) throw new Error('b fails once')
          return a.n + 1
        })
        return { a, nothing: nothing ?? 'undefined', b }
      },
    })
    await start([flaky])
    const { id } = await t.pgq.enqueue(flaky, {})
    const row = await finished(id)
    expect(row.state).toBe('succeeded')
    expect(row.result).toEqual({ a: { n: 1 }, nothing: 'undefined', b: 2 })
    expect(ran).toEqual(['a#1', 'nothing#1', 'b#1', 'b#2'])
    expect(row.attempts).toBe(2)
    expect(row.steps.a).toEqual({ result: { n: 1 }, attempt: 1, at: expect.any(String) })
    expect(row.steps.nothing).toEqual({ attempt: 1, at: expect.any(String) }) // undefined: no result key
    expect(row.steps.b).toEqual({ result: 2, attempt: 2, at: expect.any(String) })
    // pgq.jobs.get shows them too
    const got = await t.pgq.jobs.get(id)
    expect(got?.steps).toEqual(row.steps)
  })

  it('a job that uses no step leaves steps NULL', async () => {
    const plain = defineTask({ name: 'plain', handler: async () => 'ok' })
    await start([plain])
    const { id } = await t.pgq.enqueue(plain, {})
    expect((await finished(id)).steps).toBeNull()
    expect((await t.pgq.jobs.get(id))?.steps).toBeNull()
  })

  it('a duplicate name, a bad name or a non-JSON result fails the job for good with a StepError', async () => {
    const cases: Record<
      string,
      (ctx: Parameters<Parameters<typeof defineTask>[0]['handler']>[1]) => unknown
    > = {
      twice: async (ctx) => {
        await ctx.step('same', () => 1)
        await ctx.step('same', () => 2)
      },
      empty: (ctx) => ctx.step('', () => 1),
      reserved: (ctx) => ctx.step('pgq:sleep:1', () => 1),
      number: (ctx) => ctx.step(42 as unknown as string, () => 1),
      date: (ctx) => ctx.step('when', () => new Date()),
    }
    const bad = defineTask({
      name: 'bad_steps',
      maxAttempts: 3,
      ...fast,
      handler: async (p: { case: string }, ctx) => cases[p.case]!(ctx),
    })
    await start([bad])
    // errors keep name and message (the code is in the message's wording)
    const expected: Record<string, RegExp> = {
      twice: /ctx\.step\("same"\) was called twice in one run/,
      empty: /the name must be a non-empty string/,
      reserved: /not starting with "pgq:"/,
      number: /the name must be a non-empty string/,
      date: /ctx\.step\("when"\) result: a Date is not JSON/,
    }
    for (const [name, message] of Object.entries(expected)) {
      const { id } = await t.pgq.enqueue(bad, { case: name })
      const row = await finished(id)
      expect(row.state, name).toBe('failed')
      expect(row.attempts, `${name}: not retried`).toBe(1)
      expect(row.errors[0].name, name).toBe('StepError')
      expect(row.errors[0].message, name).toMatch(message)
      // the first 'same' step was stored before the duplicate was refused; nothing else was
      expect(row.steps, name).toEqual(
        name === 'twice' ? { same: expect.objectContaining({ result: 1 }) } : null,
      )
    }
  })

  it('a stale run (its lease lost) cannot store a step', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let inside = false
    let refused: unknown
    const stale = defineTask({
      name: 'stale_step',
      handler: async (_p: object, ctx) => {
        try {
          await ctx.step('slow', async () => {
            inside = true
            await gate
            return 'late'
          })
        } catch (error) {
          refused = error
          throw error
        }
      },
    })
    // a heartbeat slower than the test: the step's own write is what finds the lease gone
    await start([stale], { leaseMs: 60_000 })
    const { id } = await t.pgq.enqueue(stale, {})
    await waitFor(() => inside, 5_000, 'inside the step')
    // another worker took the job over (a rescue and a new claim give it a new lease token)
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [id])
    release()
    await waitFor(() => refused !== undefined, 5_000, 'step refused')
    expect(refused).toBeInstanceOf(AttemptEndedError)
    expect((refused as Error).message).toMatch(/ctx\.step\("slow"\).*lease was lost/)
    expect((await job(id)).steps).toBeNull()
  })

  it.each(['thread', 'process'] as const)(
    '%s isolation: steps and sleeps go through the worker, a retry replays them',
    async (mode) => {
      await start([fixture.stepper], {
        isolation: { mode, module: new URL('./fixtures/isolated-tasks.mjs', import.meta.url).href },
      })
      const { id } = await t.pgq.enqueue(fixture.stepper, {})
      const row = await finished(id)
      expect(row.state).toBe('succeeded')
      // attempt 1 slept (not charged), resumed, ran step two and failed; attempt 2 replayed both steps
      expect(row.result).toEqual({
        one: { attempt: 1, pid: expect.any(Number) },
        two: { attempt: 1 },
        attempt: 2,
      })
      expect(row.attempts).toBe(2)
      expect(Object.keys(row.steps).sort()).toEqual(['one', 'pgq:sleep:1', 'two'])

      for (const [bad, message] of [
        ['date', /a Date is not JSON/],
        ['twice', /called twice in one run/],
      ] as const) {
        const misuse = await t.pgq.enqueue(fixture.stepper, { bad })
        const failed = await finished(misuse.id)
        expect(failed.state, bad).toBe('failed')
        expect(failed.attempts, `${bad}: not retried`).toBe(1)
        expect(failed.errors[0], bad).toEqual(
          expect.objectContaining({ name: 'StepError', message: expect.stringMatching(message) }),
        )
      }
    },
  )
})
