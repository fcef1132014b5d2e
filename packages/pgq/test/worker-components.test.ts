import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { JobRescuer } from '../src/maintenance/job-rescuer.js'
import { type ClaimedJob, claimJobs } from '../src/sql/worker-queries.js'
import { Backoff } from '../src/util/backoff.js'
import { HARD_LIMIT, HardLimit } from '../src/worker/hard-limit.js'
import { HeldJobs } from '../src/worker/held-jobs.js'
import { JobFetcher } from '../src/worker/job-fetcher.js'
import { type LeaseLostReason, LeaseRenewer } from '../src/worker/lease-renewer.js'
import { RunningJob } from '../src/worker/running-job.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

const WORKER = '00000000-0000-4000-8000-00000000000a'
const workerRow = Object.freeze({
  id: WORKER,
  hostname: 'test',
  pid: 1,
  queues: ['default'],
  concurrency: 1,
  heartbeatMs: 5_000,
  rankedWake: false,
})

function claim(id: string): ClaimedJob {
  return {
    id,
    task: 't',
    queue: 'q',
    payload: {},
    attempt: 1,
    maxAttempts: 3,
    leaseToken: `token-${id}`,
    waitMs: 0,
  }
}

async function claimNow(n: number, leaseMs = 60_000): Promise<ClaimedJob[]> {
  await t.pgq.enqueueMany(Array.from({ length: n }, () => ({ task: 'noop', payload: {} })))
  return claimJobs(t.pool, t.pgq.names, {
    queue: 'default',
    limit: n,
    workerId: WORKER,
    leaseMs,
    tasks: ['noop'],
  })
}

async function stateOf(id: string): Promise<string> {
  return (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0].state
}

describe('HeldJobs', () => {
  it('moves a job claimed → running → settled → gone, and nothing else moves it', () => {
    const held = new HeldJobs()
    held.add([claim('1'), claim('2')])
    expect(held.size).toBe(2)
    const job = held.start('1')!
    expect(held.stateOf(job)).toBe('running')
    expect(held.start('1')).toBeUndefined() // already running
    expect(held.running).toBe(1)
    expect(held.settle(job)).toBe(true)
    expect(held.settle(job)).toBe(false)
    expect(held.drop(job, 'lease-lost')).toBe(false) // settled: its write decides
    expect(job.signal.aborted).toBe(false)
    held.finish(job)
    expect(held.stateOf(job)).toBeUndefined()
    expect(held.size).toBe(1)
  })

  it('drop aborts the handler with its reason; a dropped job can neither start nor settle', async () => {
    const held = new HeldJobs()
    held.add([claim('1'), claim('2')])
    const waiting = held.get('2')!
    expect(held.drop(waiting, 'lease-lost')).toBe(true)
    expect(held.start('2')).toBeUndefined()
    const running = held.start('1')!
    const idle = held.whenNoneRunning()
    expect(held.drop(running, 'shutdown')).toBe(true)
    expect(running.abortReason).toBe('shutdown')
    expect(held.settle(running)).toBe(false)
    await idle // no handler counted as running any more
    expect(held.size).toBe(0)
  })
})

it('a second claim of a job still running here supersedes the stale run: aborted, reported, no longer counted', async () => {
  // a worker whose event loop was blocked past its lease wakes, and its fetcher claims the
  // requeued job again before its heartbeat noticed the loss
  const superseded: RunningJob[] = []
  const held = new HeldJobs((job) => superseded.push(job))
  held.add([claim('1')])
  const stale = held.start('1')!
  held.add([{ ...claim('1'), attempt: 2, leaseToken: 'token-1-again' }])
  expect(superseded).toEqual([stale])
  expect(stale.abortReason).toBe('lease-lost')
  expect(held.settle(stale)).toBe(false) // its outcome is never written
  expect(held.running).toBe(0)
  await held.whenNoneRunning() // a graceful stop does not wait for the stale run
  const fresh = held.start('1')!
  expect(fresh.claim.leaseToken).toBe('token-1-again')
  // a settled run is left to its write (the new token fences it off), not reported
  expect(held.settle(fresh)).toBe(true)
  held.add([{ ...claim('1'), attempt: 3, leaseToken: 'token-1-third' }])
  expect(superseded).toEqual([stale])
  held.finish(fresh) // its fenced write came back: the newest claim stays held
  expect(held.get('1')?.claim.leaseToken).toBe('token-1-third')
})

describe('HardLimit and RunningJob.onAbort', () => {
  it('gives up on a run the grace period after an abort, not before, and once only', async () => {
    const job = new RunningJob(claim('21'))
    const limit = new HardLimit({ hardTimeoutGraceMs: 20 })
    job.onAbort(() => limit.startGrace())
    const never = new Promise<string>(() => {})
    const raced = limit.race(never)
    const abortedAt = performance.now()
    job.abort('cancelled')
    job.abort('timeout') // first reason wins; the grace is not restarted
    expect(job.abortReason).toBe('cancelled')
    expect(job.signal.aborted).toBe(true)
    expect(await raced).toBe(HARD_LIMIT)
    expect(performance.now() - abortedAt).toBeGreaterThanOrEqual(19)
    limit.clear()
  })

  it('resolves with the run when it settles first; a run never aborted starts no timer', async () => {
    const limit = new HardLimit({ hardTimeoutGraceMs: 1 })
    expect(await limit.race(Promise.resolve('done'))).toBe('done')
    await expect(limit.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    limit.clear()
  })

  it('the soft limit fires its callback, which aborts the run and so starts the grace', async () => {
    const job = new RunningJob(claim('22'))
    const limit = new HardLimit({ hardTimeoutGraceMs: 5 })
    job.onAbort(() => limit.startGrace())
    limit.startSoft(5, () => job.abort('timeout'))
    expect(await limit.race(new Promise(() => {}))).toBe(HARD_LIMIT)
    expect(job.abortReason).toBe('timeout')
    limit.clear()
  })
})

describe('LeaseRenewer', () => {
  function renewer(held: HeldJobs, lost: { job: RunningJob; reason: LeaseLostReason }[], leaseMs = 60_000) {
    return new LeaseRenewer({
      pool: t.pool,
      names: t.pgq.names,
      worker: workerRow,
      held,
      leaseMs,
      intervalMs: 60_000,
      onLeaseLost: (job, reason) => lost.push({ job, reason }),
      onError: (_c, error) => {
        throw error
      },
    })
  }

  it('extends held leases, drops a job whose lease was taken (renewal-refused), aborts on a pending cancel', async () => {
    const [a, b, c] = await claimNow(3, 1_000)
    const held = new HeldJobs()
    held.add([a!, b!, c!])
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [b!.id])
    await t.pool.query(`UPDATE "${t.schema}".jobs SET cancel_requested_at = now() WHERE id = $1`, [c!.id])
    const lost: { job: RunningJob; reason: LeaseLostReason }[] = []
    await renewer(held, lost).renewOnce()
    expect(lost.map((l) => [l.job.claim.id, l.reason])).toEqual([[b!.id, 'renewal-refused']])
    expect(held.get(b!.id)).toBeUndefined()
    expect(held.get(c!.id)?.abortReason).toBe('cancelled')
    const { rows } = await t.pool.query(
      `SELECT lease_expires_at > now() + interval '30 seconds' AS extended FROM "${t.schema}".jobs WHERE id = $1`,
      [a!.id],
    )
    expect(rows[0].extended).toBe(true)
    await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
  })

  it('says expired-during-outage when the last renewal is older than a lease', async () => {
    const [a] = await claimNow(1)
    const held = new HeldJobs()
    held.add([a!])
    await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [a!.id])
    const lost: { job: RunningJob; reason: LeaseLostReason }[] = []
    const r = renewer(held, lost, 200)
    await new Promise((resolve) => setTimeout(resolve, 300)) // no renewal for longer than the lease
    await r.renewOnce()
    expect(lost.map((l) => l.reason)).toEqual(['expired-during-outage'])
    await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
  })

  it('re-inserts its workers row when it was deleted, and revives it when it was marked lost', async () => {
    await t.pool.query(`DELETE FROM "${t.schema}".workers`)
    await renewer(new HeldJobs(), []).renewOnce()
    const read = () =>
      t.pool.query(`SELECT id::text, hostname, queues, stop_reason, heartbeat_ms FROM "${t.schema}".workers`)
    const alive = { id: WORKER, hostname: 'test', queues: ['default'], stop_reason: null, heartbeat_ms: 5000 }
    expect((await read()).rows).toEqual([alive])
    await t.pool.query(`UPDATE "${t.schema}".workers SET stopped_at = heartbeat_at, stop_reason = 'lost'`)
    await renewer(new HeldJobs(), []).renewOnce()
    expect((await read()).rows).toEqual([alive])
  })
})

describe('JobRescuer', () => {
  it('requeues expired leases without charging an attempt, leaves live ones, marks stale worker rows lost', async () => {
    const [expired] = await claimNow(1, 1)
    const [live] = await claimNow(1, 60_000)
    await t.pool.query(
      `INSERT INTO "${t.schema}".workers (id, hostname, pid, queues, concurrency, heartbeat_at)
       VALUES ('00000000-0000-4000-8000-0000000000bb', 'gone', 2, '{default}', 1, now() - interval '2 minutes')`,
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    const rescued: { requeued: number; failed: number }[] = []
    const rescuer = new JobRescuer({
      pool: t.pool,
      names: t.pgq.names,
      intervalMs: 60_000,
      failedRetentionMs: null,
      onRescued: (counts) => rescued.push(counts),
      onError: (_c, error) => {
        throw error
      },
    })
    expect(await rescuer.rescueOnce()).toEqual({ requeued: 1, failed: 0 })
    expect(rescued).toEqual([{ requeued: 1, failed: 0 }])
    expect(await stateOf(expired!.id)).toBe('available')
    expect(await stateOf(live!.id)).toBe('running')
    const attempts = (
      await t.pool.query(`SELECT attempts FROM "${t.schema}".jobs WHERE id = $1`, [expired!.id])
    ).rows[0].attempts
    expect(attempts).toBe(0)
    const gone = await t.pool.query(
      `SELECT stop_reason, stopped_at = heartbeat_at AS at_last_beat FROM "${t.schema}".workers WHERE hostname = 'gone'`,
    )
    expect(gone.rows).toEqual([{ stop_reason: 'lost', at_last_beat: true }])
    const ours = await t.pool.query(`SELECT stop_reason FROM "${t.schema}".workers WHERE id = $1`, [WORKER])
    expect(ours.rows.map((r) => r.stop_reason)).not.toContain('lost')
    await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
  })
})

describe('JobFetcher', () => {
  it('a fetcher held back by the completion backlog claims as soon as unblock() says it cleared', async () => {
    let allowed = false
    let asked = 0
    const held = new HeldJobs()
    const ran: string[] = []
    const fetcher = new JobFetcher({
      queue: 'default',
      concurrency: 5,
      pollIntervalMs: 60_000, // no poll would rescue it within the test
      claim: (limit) =>
        claimJobs(t.pool, t.pgq.names, {
          queue: 'default',
          limit,
          workerId: WORKER,
          leaseMs: 60_000,
          tasks: ['noop'],
        }),
      held,
      run: (job) => ran.push(job.claim.id),
      canClaim: () => {
        asked += 1
        return allowed
      },
      onError: () => {},
    })
    const { id } = await t.pgq.enqueue('noop', {})
    fetcher.start()
    try {
      await waitFor(() => asked >= 1, 5_000, 'the fetcher asked whether it may claim')
      fetcher.unblock() // still held back: asks again, claims nothing
      await waitFor(() => asked >= 2, 5_000, 'asked again')
      expect(ran).toEqual([])
      allowed = true
      fetcher.unblock()
      await waitFor(() => ran.includes(id), 5_000, 'claimed once unblocked')
      const before = asked
      fetcher.unblock() // not held back any more: no extra claim loop
      expect(asked).toBe(before)
    } finally {
      await fetcher.stop()
      await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
    }
  })

  it('backs off after failed claims and claims at once on resume() (no waiting out the backoff)', async () => {
    const dead = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/x` })
    dead.on('error', () => {})
    let pool: pg.Pool = dead
    let failures = 0
    let successes = 0
    const held = new HeldJobs()
    const ran: string[] = []
    const fetcher = new JobFetcher({
      queue: 'default',
      concurrency: 5,
      pollIntervalMs: 60_000,
      claim: (limit) =>
        claimJobs(pool, t.pgq.names, {
          queue: 'default',
          limit,
          workerId: WORKER,
          leaseMs: 60_000,
          tasks: ['noop'],
        }),
      held,
      run: (job) => ran.push(job.claim.id),
      canClaim: () => true,
      onError: () => {
        failures += 1
      },
      onSuccess: () => {
        successes += 1
      },
      backoff: new Backoff({ minMs: 60_000, maxMs: 60_000 }), // a backoff no test would sit out
    })
    fetcher.start()
    try {
      await waitFor(() => failures === 1, 5_000, 'first claim failed')
      const { id } = await t.pgq.enqueue('noop', {})
      pool = t.pool // the database is reachable again
      fetcher.wake() // a wake alone does not cut the backoff short
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(successes).toBe(0)
      fetcher.resume()
      await waitFor(() => ran.includes(id), 2_000, 'claimed right after resume()')
      expect(held.stateOf(held.get(id)!)).toBe('running')
    } finally {
      await fetcher.stop()
      await dead.end()
      await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
    }
  })

  it('claims only its free slots while its jobs run longer than the prefetch window', async () => {
    await t.pgq.enqueueMany(Array.from({ length: 30 }, () => ({ task: 'noop', payload: {} })))
    const held = new HeldJobs()
    const running: RunningJob[] = []
    const limits: number[] = []
    const fetcher = new JobFetcher({
      queue: 'default',
      concurrency: 2,
      pollIntervalMs: 60_000,
      prefetchWindowMs: 50,
      claim: (limit) => {
        limits.push(limit)
        return claimJobs(t.pool, t.pgq.names, {
          queue: 'default',
          limit,
          workerId: WORKER,
          leaseMs: 60_000,
          tasks: ['noop'],
        })
      },
      held,
      run: (job) => running.push(job),
      canClaim: () => true,
      onError: (_c, error) => {
        throw error
      },
    })
    fetcher.start()
    try {
      for (let i = 0; i < 10; i += 1) {
        await waitFor(() => running.length > 0, 2_000, 'a running job')
        const job = running.shift()!
        held.finish(job)
        fetcher.slotFreed(200) // each job "ran" 200 ms: longer than the window
      }
      expect(Math.max(...limits)).toBeLessThanOrEqual(2)
    } finally {
      await fetcher.stop()
      await t.pool.query(`DELETE FROM "${t.schema}".jobs`)
    }
  })
})
