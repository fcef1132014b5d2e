import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { type ClaimedJob, claimJobs } from '../src/sql/worker-queries.js'
import { Backoff } from '../src/util/backoff.js'
import { type CompletionResult, JobCompleter } from '../src/worker/job-completer.js'
import type { JobOutcome } from '../src/worker/outcome.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

async function claimOne(): Promise<ClaimedJob> {
  await t.pgq.enqueue('noop', {})
  const [claim] = await claimJobs(t.pool, t.pgq.names, {
    queue: 'default',
    limit: 1,
    workerId: '00000000-0000-4000-8000-000000000001',
    leaseMs: 60_000,
    tasks: ['noop'],
  })
  return claim!
}

const success: JobOutcome = { kind: 'succeeded', result: null, retentionMs: null, durationMs: 1 }

function completer(pool: pg.Pool = t.pool, onError: (component: string, error: unknown) => void = () => {}) {
  const c = new JobCompleter({
    pool,
    names: t.pgq.names,
    maxErrorsKept: 20,
    preparedStatements: true,
    onError,
  })
  c.start()
  return c
}

async function stateOf(id: string): Promise<string> {
  return (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0].state
}

describe('JobCompleter', () => {
  it('writes an outcome pushed at any moment around the end of a drain (no outcome is left behind)', async () => {
    // Push the second outcome after the first one's write resolved, after 0…12 microtask hops: one
    // of them lands between the drain's last look at its buffer and the drain settling.
    for (let hops = 0; hops <= 12; hops += 1) {
      const first = await claimOne()
      const second = await claimOne()
      const c = completer(t.pool, (_component, error) => {
        throw error
      })
      const secondWritten = new Promise<CompletionResult>((resolve) => {
        void c.complete(first, success).then(() => {
          let step = (): void => {
            void c.complete(second, success).then(resolve)
          }
          for (let i = 0; i < hops; i += 1) {
            const next = step
            step = () => queueMicrotask(next)
          }
          step()
        })
      })
      expect(await secondWritten).toBe('succeeded')
      await c.stop()
    }
  })

  it('resolves with the state written; a retry asked for while a cancel is pending is written cancelled', async () => {
    const claim = await claimOne()
    await t.pool.query(`UPDATE "${t.schema}".jobs SET cancel_requested_at = now() WHERE id = $1`, [claim.id])
    const c = completer()
    const retry: JobOutcome = {
      kind: 'retry',
      error: new Error('boom'),
      errorJson: '{"message":"boom"}',
      delayMs: 10,
    }
    expect(await c.complete(claim, retry)).toBe('cancelled')
    expect(await stateOf(claim.id)).toBe('cancelled')
    await c.stop()
  })

  it('resolves `fenced` for an outcome whose lease was lost, and leaves the new holder alone', async () => {
    const claim = await claimOne()
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [
      claim.id,
    ])
    const c = completer()
    expect(await c.complete(claim, success)).toBe('fenced')
    expect(await stateOf(claim.id)).toBe('running') // the new holder's run is untouched
    await c.stop()
  })

  it('keeps retrying while the database is unreachable; stop() gives up and resolves the rest `abandoned`', async () => {
    const claim = await claimOne()
    const dead = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/x` })
    const errors: string[] = []
    const c = new JobCompleter({
      pool: dead,
      names: t.pgq.names,
      maxErrorsKept: 20,
      preparedStatements: true,
      backoff: new Backoff({ minMs: 10, maxMs: 20 }),
      onError: (component) => errors.push(component),
    })
    c.start()
    const result = c.complete(claim, success)
    while (errors.length < 3) await new Promise((resolve) => setTimeout(resolve, 10))
    await c.stop(50)
    expect(await result).toBe('abandoned')
    expect(errors.every((component) => component === 'completer')).toBe(true)
    expect(await stateOf(claim.id)).toBe('running') // nothing written: the lease expires, the rescuer takes over
    await dead.end()
  })
})
