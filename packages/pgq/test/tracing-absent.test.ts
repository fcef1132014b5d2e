// pgq without `@opentelemetry/api` installed (it is an optional peer dependency): a copy of the
// built package whose only resolvable dependencies are pg, kysely and cron-parser enqueues and
// runs jobs in a real process, and writes no trace context.
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(join(packageDir, 'package.json'))
let dir: string
const schema = uniqueSchemaName('nootel')

/** The folder of an installed package, found from pgq's own package (its real path in the store). */
function installed(name: string): string {
  let folder = dirname(realpathSync(require.resolve(name)))
  while (!folder.endsWith(`/node_modules/${name}`)) folder = dirname(folder)
  return folder
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgq-no-otel-'))
  const modules = join(dir, 'node_modules')
  mkdirSync(join(modules, '@pgq', 'core'), { recursive: true })
  cpSync(join(packageDir, 'dist'), join(modules, '@pgq', 'core', 'dist'), { recursive: true })
  cpSync(join(packageDir, 'package.json'), join(modules, '@pgq', 'core', 'package.json'))
  for (const name of ['pg', 'kysely', 'cron-parser']) symlinkSync(installed(name), join(modules, name), 'dir')
  cpSync(fileURLToPath(new URL('./fixtures/without-otel.mjs', import.meta.url)), join(dir, 'main.mjs'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: databaseUrl() })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
})

describe('without @opentelemetry/api', () => {
  it('cannot resolve the API from the copy', async () => {
    const probe = `import('@opentelemetry/api').then(() => console.log('found'), () => console.log('absent'))`
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: dir })
    expect(stdout.trim()).toBe('absent')
  })

  it('enqueues and runs jobs, and stores no trace context', async () => {
    const { stdout } = await run(process.execPath, ['main.mjs', databaseUrl(), schema], {
      cwd: dir,
      timeout: 60_000,
    })
    const rows = JSON.parse(stdout) as { state: string; meta: object; result: unknown }[]
    expect(rows).toHaveLength(2)
    expect(rows.map((row) => row.state)).toEqual(['succeeded', 'succeeded'])
    expect(rows.map((row) => row.meta)).toEqual([{}, {}])
    expect(rows[0]!.result).toEqual({ hello: 'world' })
  })
})
