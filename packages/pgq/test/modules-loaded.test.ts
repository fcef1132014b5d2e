import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from './test-database.js'

// Kysely builds the statements that list and administer jobs by filter; loading it costs a process
// about 12 MB of memory. A worker and an API process that enqueue, run jobs, wait for results, read
// stats and prune never load it; listing jobs does. Run as a real process on the built package.

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'modules-loaded.mjs')
const run = promisify(execFile)

let t: TestSchema
let dir: string
beforeAll(async () => {
  t = await createTestSchema()
  dir = mkdtempSync(join(tmpdir(), 'pgq-modules-'))
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await t.drop()
})

async function kyselyModulesLoaded(admin: boolean): Promise<string[]> {
  const log = join(dir, admin ? 'admin.log' : 'worker.log')
  writeFileSync(log, '')
  const args = [FIXTURE, t.url, t.schema, log, ...(admin ? ['admin'] : [])]
  const { stdout } = await run(process.execPath, args, { timeout: 30_000 })
  expect(stdout).toBe('done\n')
  return readFileSync(log, 'utf8').split('\n').filter(Boolean)
}

describe('modules a process loads', () => {
  it('enqueue, a worker, results, stats and prune load no Kysely module; listing jobs does', async () => {
    expect(await kyselyModulesLoaded(false)).toEqual([])
    // the recorder sees Kysely when it is loaded: the check above could fail
    expect((await kyselyModulesLoaded(true)).length).toBeGreaterThan(0)
  })
})
