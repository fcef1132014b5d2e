// `pgq work --tasks file.ts`: a TypeScript tasks module (with a './x.js' import of a .ts file, as
// NodeNext writes it) loads as it is, through tsx on this Node, and its handlers run.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPgq } from '@pgq/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { startWorkerProcess, type WorkerProcess } from './worker-process.js'

const TS_TASKS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ts-tasks.ts')
let t: TestSchema
let worker: WorkerProcess | undefined

beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  worker?.kill('SIGKILL')
  await t.drop()
})

describe('pgq work --tasks <module>.ts', () => {
  it('loads the TypeScript module and runs its tasks', async () => {
    worker = await startWorkerProcess(['--schema', t.schema], { DATABASE_URL: t.url }, { tasks: TS_TASKS })
    expect(worker.log()).toMatch(/ready \(pid \d+, queues ts=10, tasks ts_double\)/)
    const pgq = createPgq({ pool: t.pool, schema: t.schema })
    const job = await pgq.enqueue('ts_double', { n: 21 }, { queue: 'ts' })
    expect(await pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })).toEqual({ doubled: 42 })
    worker.kill('SIGTERM')
    expect(await worker.exited).toBe(0)
  })
})
