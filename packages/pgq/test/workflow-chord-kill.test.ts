// A chord of 1,000 members run by 3 worker processes, one of them killed with SIGKILL mid-way:
// the callback runs exactly once, with the 1,000 results in member order.
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chord, group, job, step } from '../src/workflow/canvas.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'workflow-worker.mjs')
const MEMBERS = 1_000

interface Proc {
  child: ChildProcess
  output: string
  ran: number
}

let t: TestSchema
const procs: Proc[] = []

function spawnWorker(name: string): Proc {
  const child = spawn(process.execPath, [FIXTURE, t.url, t.schema, name], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const proc: Proc = { child, output: '', ran: 0 }
  child.stdout!.on('data', (d: Buffer) => {
    const text = d.toString()
    proc.output += text
    proc.ran += text.split('\n').filter((l) => l.startsWith('ran ')).length
  })
  child.stderr!.on('data', (d: Buffer) => {
    proc.output += d.toString()
  })
  procs.push(proc)
  return proc
}

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(`CREATE TABLE "${t.schema}".member_runs (i int NOT NULL, worker text NOT NULL)`)
  await t.pool.query(`CREATE TABLE "${t.schema}".callback_runs (input jsonb NOT NULL, worker text NOT NULL)`)
})
afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      const exited = new Promise((resolve) => p.child.once('exit', resolve))
      p.child.kill('SIGTERM')
      await exited
    }
  }
  await t.pgq.close()
  await t.drop()
})

describe('chord fan-in under worker crashes', () => {
  it('runs the callback exactly once with every result in member order while a worker is killed', async () => {
    const members = Array.from({ length: MEMBERS }, (_, i) => job<{ i: number }, number>('wf.member', { i }))
    const wf = await t.pgq.workflows.create(chord(group(...members), step<number[], number>('wf.collect')))

    const [victim, ...others] = ['a', 'b', 'c'].map(spawnWorker)
    for (const p of procs)
      await waitFor(() => p.output.includes('ready'), 20_000, `worker ready (${p.output})`)
    // kill -9 one worker once it is in the middle of the members (it holds claimed jobs)
    await waitFor(() => victim!.ran >= 50, 30_000, 'the victim to run 50 members')
    victim!.child.kill('SIGKILL')
    await new Promise((resolve) => victim!.child.once('exit', resolve))

    await expect(t.pgq.workflows.waitFor(wf.id, { timeoutMs: 45_000 })).resolves.toBe(MEMBERS)
    const runs = await t.pool.query<{ input: number[]; worker: string }>(
      `SELECT input, worker FROM "${t.schema}".callback_runs`,
    )
    expect(runs.rows).toHaveLength(1)
    expect(runs.rows[0]!.input).toEqual(Array.from({ length: MEMBERS }, (_, i) => i * 10))
    expect(others.some((p) => p.ran > 0)).toBe(true)
    // the killed worker's jobs were rescued and every member succeeded
    const info = await t.pgq.workflows.get(wf.id)
    expect(info?.state).toBe('succeeded')
    expect(info?.nodes.filter((n) => n.state === 'succeeded')).toHaveLength(MEMBERS + 1)
    // the kill interrupted members the victim held: they were rescued (re-run), not lost
    const rescued = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE workflow_id = $1 AND interruptions > 0`,
      [wf.id],
    )
    expect(rescued.rows[0].n).toBeGreaterThan(0)
    const distinct = await t.pool.query(`SELECT count(DISTINCT i)::int AS n FROM "${t.schema}".member_runs`)
    expect(distinct.rows[0].n).toBe(MEMBERS)
  }, 90_000)
})
