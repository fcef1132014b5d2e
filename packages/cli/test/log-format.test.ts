// `--log-format json` on the commands that log: every stderr line is a JSON object (pino's format),
// the job events carry their fields, and the fatal last line is JSON too.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPgq } from '@pgq/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, uniqueSchemaName, waitFor } from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'
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

/** The stderr lines of a log: everything but the ready line `pgq work` prints on stdout. */
const logLines = (log: string) => log.split('\n').filter((l) => l !== '' && !l.startsWith('pgq: worker '))

describe('--log-format json', () => {
  it('pgq work logs one JSON object per line, with the job fields', async () => {
    worker = await startWorkerProcess(
      ['--schema', t.schema, '--log-format', 'json'],
      { DATABASE_URL: t.url },
      { tasks: TS_TASKS },
    )
    const pgq = createPgq({ pool: t.pool, schema: t.schema })
    const job = await pgq.enqueue('ts_double', { n: 1 }, { queue: 'ts' })
    await pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })
    await waitFor(() => worker!.log().includes('"job succeeded"'), 10_000, 'the job line')
    worker.kill('SIGTERM')
    expect(await worker.exited).toBe(0)
    const lines = logLines(worker.log()).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.find((l) => l.msg === 'worker started')).toMatchObject({ level: 30, name: 'pgq' })
    expect(lines.find((l) => l.msg === 'job succeeded')).toMatchObject({
      level: 30,
      job: job.id,
      task: 'ts_double',
    })
    expect(lines.find((l) => l.msg === 'worker stopped')).toBeDefined()
    for (const line of lines) expect(typeof line.time).toBe('number')
  })

  it('ends with a JSON line on a fatal condition', async () => {
    const schema = uniqueSchemaName('unmigrated')
    const result = await runCli(['dashboard', '--port', '0', '--schema', schema, '--log-format', 'json'], {
      DATABASE_URL: t.url,
    })
    expect(result.code).toBe(78)
    const last = JSON.parse(result.stderr.trim().split('\n').at(-1)!) as Record<string, unknown>
    expect(last).toMatchObject({ level: 60, exit_code: 78 })
    expect(String(last.msg)).toContain('pgq migrate')
  })

  it('is an option of work, dev, schedule run and dashboard; another value is a usage error', async () => {
    for (const command of [['work'], ['dev'], ['schedule', 'run'], ['dashboard']]) {
      expect((await runCli([...command, '--help'])).stdout).toContain('--log-format <format>')
    }
    const result = await runCli(['dashboard', '--log-format', 'xml'], { DATABASE_URL: t.url })
    expect(result.code).toBe(64)
    expect(result.stderr).toContain('--log-format must be text or json, got "xml"')
  })
})
