// ctx.step across a crash: a worker process is killed (SIGKILL) after the second of three steps; a
// second worker process rescues the job and runs only the third step. Each side effect happens once.
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'steps-worker.mjs')

let t: TestSchema
const children: ChildProcess[] = []

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(
    `CREATE TABLE "${t.schema}".step_effects (job_id bigint NOT NULL, step text NOT NULL, pid integer NOT NULL)`,
  )
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await t.drop()
})

/** Starts a worker process; resolves with its output lines once it printed `ready`. */
async function startWorker(mode: 'block' | 'finish'): Promise<{ child: ChildProcess; out: string[] }> {
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

describe('ctx.step across a kill -9', () => {
  it('a second worker runs only the step not yet done; each step ran exactly once', async () => {
    const first = await startWorker('block')
    const { id } = await t.pgq.enqueue('three_steps', {})
    await waitFor(() => first.out.includes(`after-two ${id}`), 15_000, 'steps one and two done')
    const exited = new Promise((resolve) => first.child.once('exit', resolve))
    first.child.kill('SIGKILL')
    await exited

    const stored = await t.pool.query(`SELECT steps FROM "${t.schema}".jobs WHERE id = $1`, [id])
    expect(Object.keys(stored.rows[0].steps).sort()).toEqual(['one', 'two'])

    const second = await startWorker('finish')
    const result = (await t.pgq.jobs.waitFor(id, { timeoutMs: 20_000 })) as string[]
    const firstPid = first.child.pid
    const secondPid = second.child.pid
    // steps one and two come back from the job row (run by the killed process), three ran now
    expect(result).toEqual([`one@${firstPid}`, `two@${firstPid}`, `three@${secondPid}`])

    const effects = await t.pool.query(
      `SELECT step, pid FROM "${t.schema}".step_effects WHERE job_id = $1 ORDER BY step`,
      [id],
    )
    expect(effects.rows).toEqual([
      { step: 'one', pid: firstPid },
      { step: 'three', pid: secondPid },
      { step: 'two', pid: firstPid },
    ])
    const row = (
      await t.pool.query(`SELECT attempts, interruptions, steps FROM "${t.schema}".jobs WHERE id = $1`, [id])
    ).rows[0]
    expect(row.attempts).toBe(1) // the crash was an interruption, not a failed attempt
    expect(row.interruptions).toBe(1)
    expect(row.steps.three).toEqual(expect.objectContaining({ result: `three@${secondPid}`, attempt: 1 }))

    const stopped = new Promise((resolve) => second.child.once('exit', resolve))
    second.child.kill('SIGTERM')
    await stopped
  })
})
