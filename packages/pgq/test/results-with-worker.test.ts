// Results, progress, cancellation, retry and pruning with a real worker, the worker in another process.
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobCancelledError, JobFailedError, JobTimeoutError } from '../src/errors.js'
import { Pruner } from '../src/maintenance/pruner.js'
import { PermanentError } from '../src/task/job-outcome.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'
import { jobRow, seedJobs } from './worker-simulation.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'run-worker.mjs')

let t: TestSchema
let child: ChildProcess
let childOutput = ''

beforeAll(async () => {
  t = await createTestSchema()
  child = spawn(process.execPath, [FIXTURE, t.url, t.schema], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (d) => {
    childOutput += d
  })
  child.stderr!.on('data', (d) => {
    childOutput += d
  })
  await waitFor(() => childOutput.includes('ready'), 20_000, `worker process ready (output: ${childOutput})`)
})
afterAll(async () => {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
  await t.pgq.jobs.close()
  await t.drop()
})

describe('awaiting results of jobs another process runs', () => {
  it('resolves with the result on success and rejects with the error history on failure', async () => {
    const ok = await t.pgq.enqueue('double', { n: 21 })
    await expect(t.pgq.jobs.waitFor(ok.id, { timeoutMs: 10_000 })).resolves.toEqual({ doubled: 42 })
    // who ran it is kept once it finished (locked_by is cleared outside running)
    const done = await t.pgq.jobs.get(ok.id)
    expect(done).toMatchObject({
      lockedBy: null,
      lastWorker: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/),
    })
    // by name, so the task's own maxAttempts is not known here: pass it
    const bad = await t.pgq.enqueue('explode', { message: 'kaboom' }, { maxAttempts: 1 })
    const error = await t.pgq.jobs.waitFor(bad.id, { timeoutMs: 10_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JobFailedError)
    expect((error as JobFailedError).errors).toEqual([
      expect.objectContaining({
        attempt: 1,
        message: 'kaboom',
        // when the attempt started and which worker ran it (the dashboard's timeline shows both)
        startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        worker: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/),
      }),
    ])
    // the failed attempt and the finished job name the same worker (the one process of this file)
    expect((await t.pgq.jobs.get(bad.id))?.lastWorker).toBe((error as JobFailedError).errors[0]?.worker)
  })

  it('rejects with JobTimeoutError when the job is still running at the deadline', async () => {
    const held = await t.pgq.enqueue('hold', {})
    const error = await t.pgq.jobs.waitFor(held.id, { timeoutMs: 500 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JobTimeoutError)
    await t.pgq.jobs.cancel(held.id)
    await expect(t.pgq.jobs.waitFor(held.id, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(JobCancelledError)
  })
})

describe('progress and cancellation of a running job on another process', () => {
  it('shows progress mid-run, and a cancel aborts the handler within a second and ends it cancelled', async () => {
    const held = await t.pgq.enqueue('hold', {})
    const seen: unknown[] = []
    const waiting = t.pgq.jobs
      .waitFor(held.id, { timeoutMs: 15_000, onProgress: (p) => seen.push(p) })
      .catch((e: unknown) => e)
    const running = await waitFor(
      async () => {
        const job = await t.pgq.jobs.get(held.id)
        return job?.state === 'running' && job.progress ? job : undefined
      },
      10_000,
      'progress of the running job',
    )
    expect(running.progress).toMatchObject({ value: 25, meta: { step: 'started' } })
    await waitFor(() => seen.length > 0, 5_000, 'onProgress')

    const asked = performance.now()
    expect(await t.pgq.jobs.cancel(held.id)).toEqual({ cancelled: 0, cancelRequested: 1 })
    const error = await waiting
    expect(error).toBeInstanceOf(JobCancelledError)
    expect(performance.now() - asked).toBeLessThan(1_500)
    await waitFor(() => childOutput.includes(`aborted ${held.id} cancelled`), 5_000, 'handler abort')
    const row = await jobRow(t, held.id)
    expect(row).toMatchObject({ state: 'cancelled', attempts: 1 })
    expect(row!.finished_at).toBeInstanceOf(Date)
  })

  it('a waiting job cancelled before a worker gets to it never runs', async () => {
    const job = await t.pgq.enqueue('double', { n: 1 }, { delayMs: 60_000 })
    expect(await t.pgq.jobs.cancel(job.id)).toEqual({ cancelled: 1, cancelRequested: 0 })
    await expect(t.pgq.jobs.waitFor(job.id)).rejects.toBeInstanceOf(JobCancelledError)
    expect((await jobRow(t, job.id))!.started_at).toBeNull()
  })
})

describe('retry and pruning with a worker in this process', () => {
  it('retry of a failed job runs it again, keeping its error history', async () => {
    let calls = 0
    const flaky = defineTask({
      name: 'flaky',
      handler: async () => {
        calls += 1
        if (calls === 1) throw new PermanentError('first run fails')
        return { calls }
      },
    })
    const worker = t.pgq.createWorker({ tasks: [flaky], scheduler: false })
    await worker.start()
    try {
      const job = await t.pgq.enqueue(flaky, {})
      await expect(t.pgq.jobs.waitFor(job.id, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(JobFailedError)
      expect(await t.pgq.jobs.retry(job.id)).toEqual({ retried: 1 })
      await expect(t.pgq.jobs.waitFor(job.id, { timeoutMs: 10_000 })).resolves.toEqual({ calls: 2 })
      const done = await t.pgq.jobs.get(job.id)
      expect(done).toMatchObject({ state: 'succeeded', attempts: 1 })
      expect(done!.errors.map((e) => e.message)).toEqual(['first run fails'])
    } finally {
      await worker.stop()
    }
  })

  it('pruning while workers run deletes only what is due, in batches, without conflicts', async () => {
    const quick = defineTask({ name: 'quick', handler: async () => 'ok' })
    const errors: unknown[] = []
    const worker = t.pgq.createWorker({
      tasks: [quick],
      scheduler: false,
      // 1 ms, not 0: a retention of 0 deletes in the outcome statement, leaving the pruners nothing
      retention: { succeeded: 1 },
      pruneIntervalMs: 50,
    })
    worker.on('worker:error', ({ error }) => errors.push(error))
    const extra = new Pruner({
      pool: t.pool,
      schema: t.schema,
      onError: (_, e) => errors.push(e),
      intervalMs: 20,
      batchSize: 5,
    })
    const keep = await seedJobs(t, 5, { task: 'archived' })
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'succeeded', finished_at = now(), delete_after = now() + interval '1 hour'
       WHERE id = ANY($1::bigint[])`,
      [keep],
    )
    const waiting = await seedJobs(t, 3, { task: 'nobody_runs_this' })
    await worker.start()
    extra.start()
    try {
      const jobs = await t.pgq.enqueueMany(Array.from({ length: 60 }, () => ({ task: quick, payload: {} })))
      const ids = jobs.map((j) => j.id)
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT 1 FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[])`, [ids]))
            .rowCount === 0,
        15_000,
        'every succeeded job pruned',
      )
      const left = await t.pool.query(
        `SELECT id::text FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [[...keep, ...waiting]],
      )
      expect(left.rows.map((r) => r.id).sort()).toEqual([...keep, ...waiting].sort())
      expect(errors).toEqual([])
    } finally {
      await extra.stop()
      await worker.stop()
    }
  })
})
