import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import {
  createSideEffectTables,
  startWorkerProcess,
  TASKS_FIXTURE,
  type WorkerProcess,
} from './worker-process.js'

let t: TestSchema
let env: Record<string, string>
const processes: WorkerProcess[] = []

beforeAll(async () => {
  t = await createTestSchema()
  env = { DATABASE_URL: t.url, PGQ_SCHEMA: t.schema }
  await createSideEffectTables(t)
})
afterEach(async () => {
  for (const p of processes.splice(0)) {
    p.kill('SIGKILL')
    await p.exited
  }
  await t.pool.query(`TRUNCATE "${t.schema}".jobs, "${t.schema}".runs, "${t.schema}".completions`)
  await t.pool.query(`DELETE FROM "${t.schema}".schedules`)
})
afterAll(async () => {
  await t.drop()
})

async function worker(
  args: string[],
  extraEnv: Record<string, string> = {},
  options: { waitReady?: boolean; tasks?: string } = {},
): Promise<WorkerProcess> {
  const p = await startWorkerProcess(
    ['--schema', t.schema, '--log-level', 'warn', ...args],
    { ...env, ...extraEnv },
    options,
  )
  processes.push(p)
  return p
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  return (await t.pool.query(sql, values)).rows[0].n
}

const jobs = () => `"${t.schema}".jobs`

describe('pgq work (real processes)', () => {
  it('three worker processes drain 5,000 jobs: none lost, none run twice', async () => {
    await t.pgq.enqueueMany(Array.from({ length: 5000 }, () => ({ task: 'record', payload: {} })))
    await Promise.all([1, 2, 3].map(() => worker(['--concurrency', '20'])))
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM ${jobs()} WHERE state = 'succeeded'`)) === 5000,
      60_000,
      '5,000 succeeded',
    )
    expect(await count(`SELECT count(*)::int AS n FROM "${t.schema}".runs`)).toBe(5000)
    expect(await count(`SELECT count(DISTINCT job_id)::int AS n FROM "${t.schema}".completions`)).toBe(5000)
    // the work was shared
    expect(await count(`SELECT count(DISTINCT pid)::int AS n FROM "${t.schema}".runs`)).toBeGreaterThan(1)
  })

  it('kill -9 of a worker holding 50 jobs: another worker completes all 50, each exactly once after the crash', async () => {
    const ids = (
      await t.pgq.enqueueMany(Array.from({ length: 50 }, () => ({ task: 'slow', payload: { ms: 120_000 } })))
    ).map((j) => j.id)
    const a = await worker(['--concurrency', '50', '--lease', '2000', '--rescue-interval', '500'])
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM "${t.schema}".runs`)) === 50,
      20_000,
      '50 running',
    )
    a.kill('SIGKILL')
    await a.exited
    const killedAt = Date.now()
    await worker(['--concurrency', '50', '--lease', '2000', '--rescue-interval', '500'], { FAST: '1' })
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM ${jobs()} WHERE state = 'succeeded'`)) === 50,
      30_000,
      '50 recovered',
    )
    const recoveryMs = Date.now() - killedAt
    expect(recoveryMs).toBeLessThan(15_000) // lease 2 s + rescue every 0.5 s, with room for a slow machine
    const perJob = await t.pool.query(
      `SELECT job_id, count(*)::int AS n FROM "${t.schema}".completions GROUP BY job_id`,
    )
    expect(perJob.rows).toHaveLength(50)
    expect(perJob.rows.every((r) => r.n === 1)).toBe(true)
    const rows = await t.pool.query(
      `SELECT attempts, interruptions FROM ${jobs()} WHERE id = ANY($1::bigint[])`,
      [ids],
    )
    expect(rows.rows.every((r) => r.attempts === 1 && r.interruptions === 1)).toBe(true)
  })

  it('a job that kills its worker every time fails after the interruption cap while other jobs keep flowing', async () => {
    const poison = await t.pgq.enqueue('suicide', {})
    const args = [
      '--concurrency',
      '5',
      '--lease',
      '1000',
      '--rescue-interval',
      '300',
      '--poll-interval',
      '200',
    ]
    let good = 0
    for (let restart = 0; restart < 6; restart += 1) {
      const p = await worker(args, {}, { waitReady: false }) // it may die before it says ready
      await t.pgq.enqueueMany(Array.from({ length: 10 }, () => ({ task: 'record', payload: {} })))
      good += 10
      const state = await Promise.race([
        p.exited.then(() => 'died'),
        waitFor(
          async () =>
            (await t.pool.query(`SELECT state FROM ${jobs()} WHERE id = $1`, [poison.id])).rows[0].state ===
            'failed',
          30_000,
          'poison failed',
        ).then(() => 'failed'),
      ])
      if (state === 'failed') break
    }
    const row = (
      await t.pool.query(`SELECT state, interruptions, errors FROM ${jobs()} WHERE id = $1`, [poison.id])
    ).rows[0]
    expect(row.state).toBe('failed')
    expect(row.interruptions).toBe(3)
    expect(row.errors.at(-1).message).toMatch(/interrupted 3 times/)
    // The last worker is alive and jobs flow: new jobs all succeed. Jobs that shared a dying
    // process with the poison were interrupted with it; each ends succeeded or, after the same
    // cap, failed as interrupted — none is lost or stuck.
    const fresh = await t.pgq.enqueueMany(Array.from({ length: 20 }, () => ({ task: 'record', payload: {} })))
    await waitFor(
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM ${jobs()} WHERE id = ANY($1::bigint[]) AND state = 'succeeded'`,
          [fresh.map((j) => j.id)],
        )) === 20,
      30_000,
      'fresh jobs',
    )
    await waitFor(
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM ${jobs()} WHERE task = 'record' AND state IN ('available', 'running')`,
        )) === 0,
      30_000,
      'earlier jobs settled',
    )
    const earlier = await t.pool.query(
      `SELECT state, interruptions FROM ${jobs()} WHERE task = 'record' AND NOT (id = ANY($1::bigint[]))`,
      [fresh.map((j) => j.id)],
    )
    expect(earlier.rows).toHaveLength(good)
    expect(earlier.rows.filter((r) => r.state === 'succeeded').length).toBeGreaterThan(0)
    expect(
      earlier.rows.every((r) => r.state === 'succeeded' || (r.state === 'failed' && r.interruptions === 3)),
    ).toBe(true)
  })

  it('a job running 5× its lease with a healthy heartbeat is never taken over', async () => {
    const args = ['--lease', '1000', '--rescue-interval', '200']
    await worker(args)
    await worker(args)
    const { id } = await t.pgq.enqueue('slow', { ms: 5_000 })
    await waitFor(
      async () =>
        (await t.pool.query(`SELECT state FROM ${jobs()} WHERE id = $1`, [id])).rows[0].state === 'succeeded',
      20_000,
      'long job done',
    )
    const row = (await t.pool.query(`SELECT attempts, interruptions FROM ${jobs()} WHERE id = $1`, [id]))
      .rows[0]
    expect(row).toEqual({ attempts: 1, interruptions: 0 })
    expect(await count(`SELECT count(*)::int AS n FROM "${t.schema}".runs WHERE job_id = $1`, [id])).toBe(1)
  })

  it('SIGTERM with 20 running jobs: those done within the grace succeed, the rest are released and run elsewhere without spending an attempt', async () => {
    const short = await t.pgq.enqueueMany(
      Array.from({ length: 10 }, () => ({ task: 'slow', payload: { ms: 300 } })),
    )
    const long = await t.pgq.enqueueMany(
      Array.from({ length: 10 }, () => ({ task: 'slow', payload: { ms: 120_000 } })),
    )
    const a = await worker(['--concurrency', '20', '--shutdown-grace', '2000'])
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM "${t.schema}".runs`)) === 20,
      20_000,
      '20 running',
    )
    a.kill('SIGTERM')
    expect(await a.exited).toBe(0)
    const shortRows = await t.pool.query(`SELECT state FROM ${jobs()} WHERE id = ANY($1::bigint[])`, [
      short.map((j) => j.id),
    ])
    expect(shortRows.rows.every((r) => r.state === 'succeeded')).toBe(true)
    const released = await t.pool.query(
      `SELECT state, attempts, interruptions FROM ${jobs()} WHERE id = ANY($1::bigint[])`,
      [long.map((j) => j.id)],
    )
    expect(
      released.rows.every((r) => r.state === 'available' && r.attempts === 0 && r.interruptions === 0),
    ).toBe(true)
    await worker(['--concurrency', '20'], { FAST: '1' })
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM ${jobs()} WHERE state = 'succeeded'`)) === 20,
      20_000,
      'released jobs done',
    )
    const after = await t.pool.query(`SELECT attempts FROM ${jobs()} WHERE id = ANY($1::bigint[])`, [
      long.map((j) => j.id),
    ])
    expect(after.rows.every((r) => r.attempts === 1)).toBe(true)
  })

  it('--retention succeeded=0 with --no-maintenance: each succeeded job is deleted with its outcome', async () => {
    const ids = (
      await t.pgq.enqueueMany(Array.from({ length: 300 }, () => ({ task: 'record', payload: {} })))
    ).map((j) => j.id)
    // no pruner runs in this worker: a row that is gone was deleted by its outcome statement
    await worker(['--retention', 'succeeded=0,failed=30d,cancelled=forever', '--no-maintenance'])
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM "${t.schema}".completions`)) === 300,
      60_000,
      '300 jobs run',
    )
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM ${jobs()} WHERE id = ANY($1::bigint[])`, [ids])) === 0,
      10_000,
      'every succeeded job deleted',
    )
    expect(await count(`SELECT count(*)::int AS n FROM "${t.schema}".runs`)).toBe(300)
  })

  it('fires the schedules a tasks module declares in code', async () => {
    const tasks = TASKS_FIXTURE.replace('tasks.mjs', 'tasks-with-schedule.mjs')
    await worker([], {}, { tasks })
    await waitFor(
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM ${jobs()} WHERE schedule_name = 'every_second' AND state = 'succeeded'`,
        )) >= 2,
      15_000,
      'two scheduled runs',
    )
    const row = (await t.pool.query(`SELECT source FROM "${t.schema}".schedules WHERE name = 'every_second'`))
      .rows[0]
    expect(row.source).toBe('code')
  })
})
