import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { claimJobs, finalizeJobs } from '../src/sql/worker-queries.js'
import { resolveWorkerConfig } from '../src/worker/worker-config.js'
import { createTestSchema, type TestSchema } from './test-database.js'

// The worker's bookkeeping commits with synchronous_commit = off unless `synchronousCommit: true`,
// which keeps the server's setting. The statements set it for their own transaction: run inside an
// explicit one, SHOW reads what the commit will use.

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

const WORKER = '00000000-0000-4000-8000-0000000000c1'

async function commitSettingAfter(synchronousCommit: boolean): Promise<{ claim: string; finalize: string }> {
  await t.pgq.enqueue('noop', {})
  const client = await t.pool.connect()
  try {
    await client.query('BEGIN')
    const server = (await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit
    const [job] = await claimJobs(client, t.pgq.names, {
      queue: 'default',
      limit: 1,
      workerId: WORKER,
      leaseMs: 60_000,
      tasks: ['noop'],
      synchronousCommit,
    })
    const claim = (await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit
    await client.query(`SELECT set_config('synchronous_commit', $1, true)`, [server])
    const item = {
      id: job!.id,
      leaseToken: job!.leaseToken,
      state: 'succeeded' as const,
      result: null,
      error: null,
      delayMs: 0,
      refundAttempt: false,
      retentionMs: null,
      queue: null,
    }
    const written = await finalizeJobs(client, t.pgq.names, [item], 10, false, synchronousCommit)
    expect(written.get(job!.id)).toBe('succeeded')
    const finalize = (await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit
    await client.query('COMMIT')
    return { claim, finalize }
  } finally {
    client.release()
  }
}

describe('commit mode of the worker statements', () => {
  it('claims and outcomes commit asynchronously by default', async () => {
    expect(await commitSettingAfter(false)).toEqual({ claim: 'off', finalize: 'off' })
  })

  it('synchronousCommit: true keeps the server setting for both', async () => {
    const server = (await t.pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit
    expect(server).not.toBe('off')
    expect(await commitSettingAfter(true)).toEqual({ claim: server, finalize: server })
  })

  it('the option is a validated boolean of the worker', () => {
    const tasks = [{ name: 'noop', queue: 'default', handler: async () => {} }] as never
    expect(resolveWorkerConfig({ tasks }).synchronousCommit).toBe(false)
    expect(resolveWorkerConfig({ tasks, synchronousCommit: true }).synchronousCommit).toBe(true)
    expect(() => resolveWorkerConfig({ tasks, synchronousCommit: 'yes' as never })).toThrow(
      PgqValidationError,
    )
  })
})
