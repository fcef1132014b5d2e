// ctx.transaction across a kill -9: a worker process killed inside the transaction leaves nothing
// (PostgreSQL rolls it back), and the rescued job's write happens exactly once; a worker killed
// right after the commit leaves the job succeeded, and it does not run again.
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'transaction-worker.mjs')

let t: TestSchema
const children: ChildProcess[] = []

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(`CREATE TABLE "${t.schema}".tx_effects (job_id bigint NOT NULL, pid integer NOT NULL)`)
})
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})
afterAll(async () => {
  await t.drop()
})

type Mode = 'before-commit' | 'after-commit' | 'finish'

async function startWorker(mode: Mode): Promise<{ child: ChildProcess; out: string[] }> {
  const child = spawn(process.execPath, [FIXTURE, t.url, t.schema, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  const out: string[] = []
  const collect = (chunk: Buffer) => out.push(...chunk.toString().split('\n').filter(Boolean))
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  await waitFor(() => out.includes('ready'), 20_000, `worker process ready (${mode})`)
  return { child, out }
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

async function effects(id: string): Promise<number[]> {
  const rows = await t.pool.query(`SELECT pid FROM "${t.schema}".tx_effects WHERE job_id = $1`, [id])
  return rows.rows.map((r) => r.pid)
}

describe('ctx.transaction across a kill -9', () => {
  it('killed between the write and the commit: rolled back, and after the rescue the write happened once', async () => {
    const first = await startWorker('before-commit')
    const { id } = await t.pgq.enqueue('book_seat', {})
    await waitFor(() => first.out.includes(`inside ${id}`), 15_000, 'inside the transaction')
    await kill(first.child)
    const second = await startWorker('finish')
    const result = await t.pgq.jobs.waitFor(id, { timeoutMs: 20_000 })
    expect(result).toEqual({ bookedBy: second.child.pid })
    expect(await effects(id)).toEqual([second.child.pid])
    const row = await t.pool.query(`SELECT attempts, state FROM "${t.schema}".jobs WHERE id = $1`, [id])
    // an interrupted run is not counted as an attempt
    expect(row.rows[0]).toEqual({ attempts: 1, state: 'succeeded' })
    await kill(second.child)
  })

  it('killed after the commit: the job is succeeded and is not run again', async () => {
    const first = await startWorker('after-commit')
    const { id } = await t.pgq.enqueue('book_seat', {})
    await waitFor(() => first.out.includes(`committed ${id}`), 15_000, 'transaction committed')
    await kill(first.child)
    const second = await startWorker('finish')
    expect(await t.pgq.jobs.waitFor(id, { timeoutMs: 5_000 })).toEqual({ bookedBy: first.child.pid })
    // the second worker is alive and claiming (it runs a later job); the committed one stays done
    const later = await t.pgq.enqueue('book_seat', {})
    await t.pgq.jobs.waitFor(later.id, { timeoutMs: 20_000 })
    expect(await effects(id)).toEqual([first.child.pid])
    await kill(second.child)
  })
})
