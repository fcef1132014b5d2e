// Handler isolation: for each mode, handlers past their hard limit, crashes and a memory cap,
// checked from outside through the jobs table and a side-effect table written by the handlers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { IsolationMode } from '../src/worker/isolation/handler-runner.js'
import type { Worker } from '../src/worker/worker.js'
import * as fixture from './fixtures/isolated-tasks.mjs'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

const MODULE = new URL('./fixtures/isolated-tasks.mjs', import.meta.url).href
const TASKS = [
  fixture.busy,
  fixture.spin,
  fixture.ignoring,
  fixture.crash,
  fixture.hog,
  fixture.context,
  fixture.linger,
]
const LONG_MS = 2_500 // how long the first attempt would run if nothing stopped it

let t: TestSchema
const workers: Worker[] = []

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(
    `CREATE TABLE "${t.schema}".side_effects (job_id bigint, attempt int, note text, at timestamptz DEFAULT clock_timestamp())`,
  )
})
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 1_000 })))
  await t.pool.query(`DELETE FROM "${t.schema}".jobs; DELETE FROM "${t.schema}".side_effects`)
})
afterAll(async () => {
  await t.drop()
})

async function startWorker(mode: IsolationMode, extra: Record<string, number> = {}): Promise<Worker> {
  const worker = t.pgq.createWorker({
    tasks: TASKS,
    concurrency: 1,
    pollIntervalMs: 100,
    isolation: { mode, module: MODULE, ...extra },
  })
  workers.push(worker)
  await worker.start()
  return worker
}

async function runToEnd(task: (typeof TASKS)[number], payload: object) {
  const { id } = await t.pgq.enqueue(task, { url: t.url, schema: t.schema, ...payload })
  const row = await waitFor(
    async () => {
      const r = (await t.pool.query(`SELECT * FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]
      return ['succeeded', 'failed', 'cancelled'].includes(r.state) ? r : undefined
    },
    30_000,
    `job ${id} finished`,
  )
  return { id, row }
}

async function sideEffects(id: string) {
  const rows = await t.pool.query(
    `SELECT attempt, note, at FROM "${t.schema}".side_effects WHERE job_id = $1 ORDER BY at`,
    [id],
  )
  return rows.rows as { attempt: number; note: string | null; at: Date }[]
}

function progressOf(job: { progress: unknown } | undefined): unknown {
  return (job?.progress as { value?: unknown } | null | undefined)?.value
}

/** How long the first attempt ran, from its HardTimeLimitError message. */
function ranMs(message: string): number {
  return Number(/still running after (\d+) ms/.exec(message)?.[1] ?? Number.NaN)
}

/** Proving that something never happens needs a wait past the moment it would have happened. */
async function pastFirstAttemptEnd(startedBefore: number): Promise<void> {
  const until = startedBefore + LONG_MS + 1_000
  await waitFor(() => performance.now() > until, LONG_MS + 5_000, 'the first attempt’s end')
}

describe.each(['inline', 'thread', 'process'] as const)('%s isolation', (mode) => {
  const stops = mode !== 'inline'

  it('a CPU-bound handler past its hard limit fails the attempt; the retry runs once', async () => {
    await startWorker(mode)
    const enqueuedAt = performance.now()
    const { id, row } = await runToEnd(fixture.busy, { busyMs: LONG_MS })
    expect(row.state).toBe('succeeded')
    expect(row.attempts).toBe(2)
    expect(row.result).toEqual({ attempt: 2 })
    expect(row.errors).toHaveLength(1)
    expect(row.errors[0].name).toBe('HardTimeLimitError')
    expect(row.errors[0].message).toMatch(stops ? /terminated|SIGKILL/ : /abandoned, not stopped/)
    await pastFirstAttemptEnd(enqueuedAt)
    const effects = await sideEffects(id)
    if (stops) {
      // stopped for real: the slot was free for the retry long before the loop would have ended
      expect(effects).toEqual([])
      expect(ranMs(row.errors[0].message)).toBeLessThan(LONG_MS)
    } else {
      // inline cannot stop a busy loop: its side effect lands, before the attempt is failed
      expect(effects.map((e) => e.attempt)).toEqual([1])
    }
  })

  it('a CPU-bound handler returning after its hard limit does not succeed', async () => {
    await startWorker(mode)
    const { row } = await runToEnd(fixture.spin, { busyMs: LONG_MS })
    expect(row.attempts).toBe(2)
    expect(row.result).toEqual({ attempt: 2 })
    expect(row.errors[0].name).toBe('HardTimeLimitError')
  })

  it('a handler ignoring its signal is stopped at the hard limit; the retry runs once', async () => {
    await startWorker(mode)
    const enqueuedAt = performance.now()
    const { id, row } = await runToEnd(fixture.ignoring, { sleepMs: LONG_MS })
    expect(row.state).toBe('succeeded')
    expect(row.attempts).toBe(2)
    expect(row.result).toEqual({ attempt: 2 })
    expect(row.errors[0].name).toBe('HardTimeLimitError')
    // the slot was freed at the hard limit, not when the handler would have finished
    expect(ranMs(row.errors[0].message)).toBeLessThan(LONG_MS)
    await pastFirstAttemptEnd(enqueuedAt)
    const effects = await sideEffects(id)
    if (stops) {
      expect(effects).toEqual([])
    } else {
      // inline: the abandoned handler runs on, but its context refuses it (nothing written by pgq)
      const late = await waitFor(async () => (await sideEffects(id))[0], 5_000, 'the late side effect')
      expect(late).toMatchObject({ attempt: 1, note: 'AttemptEndedError' })
      const after = (await t.pool.query(`SELECT progress FROM "${t.schema}".jobs WHERE id = $1`, [id]))
        .rows[0]
      expect(after.progress?.meta?.late).toBeUndefined()
    }
  })

  it('passes payload, progress, result, PermanentError and the cancel signal across', async () => {
    await startWorker(mode)
    const ok = await runToEnd(fixture.context, { n: 21 })
    expect(ok.row.state).toBe('succeeded')
    expect(ok.row.result).toEqual({ doubled: 42, task: 'iso_context', attempt: 1 })
    expect(ok.row.progress).toMatchObject({ value: 50, meta: { step: 'half' } })
    const bad = await runToEnd(fixture.context, { fail: 'permanent' })
    expect(bad.row.state).toBe('failed')
    expect(bad.row.attempts).toBe(1)
    expect(bad.row.errors[0]).toMatchObject({ name: 'PermanentError', message: 'bad input, never retry' })
    const { id } = await t.pgq.enqueue(fixture.context, { hold: true })
    await waitFor(
      async () => progressOf(await t.pgq.jobs.get(id)) === 10,
      10_000,
      'the holding handler’s progress',
    )
    await t.pgq.jobs.cancel(id)
    await waitFor(async () => (await t.pgq.jobs.get(id))?.state === 'cancelled', 10_000, 'cancelled')
  })
})

describe.each(['thread', 'process'] as const)('%s isolation crashes', (mode) => {
  it('a crash of the handler (process.exit / uncaught error) fails only that attempt', async () => {
    await startWorker(mode)
    const how = mode === 'process' ? 'exit' : 'uncaught'
    const { row } = await runToEnd(fixture.crash, { how })
    expect(row.state).toBe('succeeded')
    expect(row.attempts).toBe(2)
    expect(row.errors[0].name).toBe('HandlerCrashedError')
    expect(row.errors[0].message).toMatch(
      mode === 'process' ? /exited with code 1/ : /uncaught in the handler/,
    )
  })

  it('a handler allocating past its memory cap fails that attempt; the worker lives on', async () => {
    await startWorker(mode, { maxMemoryMb: 32 })
    const { row } = await runToEnd(fixture.hog, {})
    expect(row.state).toBe('succeeded')
    expect(row.attempts).toBe(2)
    expect(row.errors[0].name).toBe('HandlerCrashedError')
    expect(row.errors[0].message).toMatch(/out of memory/)
  })

  it('worker.stop() kills a handler still running after the grace before its job is released', async () => {
    const worker = await startWorker(mode)
    const { id } = await t.pgq.enqueue(fixture.linger, { url: t.url, schema: t.schema, sleepMs: LONG_MS })
    await waitFor(async () => progressOf(await t.pgq.jobs.get(id)) === 1, 20_000, 'the handler runs')
    const runningAt = performance.now()
    await worker.stop({ graceMs: 100 })
    expect((await t.pgq.jobs.get(id))?.state).toBe('available') // released, to run elsewhere
    await pastFirstAttemptEnd(runningAt)
    expect(await sideEffects(id)).toEqual([])
  })
})
