// The errors a new user meets first, each one line with the fix, from the real `pgq` command.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName } from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'

const dir = mkdtempSync(join(tmpdir(), 'pgq-newcomer-'))
const NO_DB = 'postgres://postgres@127.0.0.1:1/none' // never reached: the module fails first

beforeAll(() => {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
  writeFileSync(join(dir, 'broken.js'), `import pg from 'pg'\n\nexport const tasks = {\n  a: 1,\n`)
  writeFileSync(join(dir, 'broken.ts'), `export const limit: number = 1\nexport const x = (limit +\n`)
  writeFileSync(join(dir, 'imports-broken.js'), `export { tasks } from './broken.js'\n`)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The command failed with `code` and exactly one line on stderr, which is returned. */
async function oneLine(args: string[], code: number, env: Record<string, string | undefined> = {}) {
  const result = await runCli(args, { DATABASE_URL: undefined, ...env })
  expect(result.code, result.stderr).toBe(code)
  const lines = result.stderr.trim().split('\n')
  expect(lines, result.stderr).toHaveLength(1)
  return lines[0]!
}

describe('a database that is not migrated', () => {
  it.each([['jobs'], ['stats'], ['workers']])('pgq %s says to run pgq migrate (exit 78)', async (command) => {
    const schema = uniqueSchemaName('unmigrated')
    const line = await oneLine([command, '--database-url', databaseUrl(), '--schema', schema], 78)
    expect(line).toContain(`"${schema}`)
    expect(line).toMatch(/not migrated; run `pgq migrate`/)
  })

  it('pgq enqueue says so too', async () => {
    const schema = uniqueSchemaName('unmigrated')
    const line = await oneLine(['enqueue', 'x', '--database-url', databaseUrl(), '--schema', schema], 78)
    expect(line).toMatch(/run `pgq migrate`/)
  })
})

describe('a malformed database URL', () => {
  it('--database-url not-a-url is refused before any connection (exit 64)', async () => {
    const line = await oneLine(['jobs', '--database-url', 'not-a-url'], 64)
    expect(line).toBe(
      'pgq: --database-url "not-a-url" is not a PostgreSQL URL: expected postgres://user:password@host:5432/database (exit 64)',
    )
  })

  it('DATABASE_URL is checked the same way, without echoing a password', async () => {
    const line = await oneLine(['stats'], 64, { DATABASE_URL: 'postgres:/app:s3cret@db/app' })
    expect(line).toMatch(/^pgq: DATABASE_URL ".*" is not a PostgreSQL URL/)
    expect(line).not.toContain('s3cret')
  })

  it('pgq work and pgq dev check it too', async () => {
    expect(await oneLine(['work', '--tasks', join(dir, 'broken.js'), '--database-url', 'x'], 64)).toContain(
      'not a PostgreSQL URL',
    )
    expect(await oneLine(['dev', '--database-url', 'localhost:5432'], 64)).toContain('not a PostgreSQL URL')
  })
})

describe('pgq work --retention', () => {
  it.each([
    ['succeeded', '"succeeded" is not state=duration'],
    ['done=1h', '"done=1h" is not state=duration (states: succeeded, failed, cancelled, expired)'],
    ['failed=2w', 'failed=2w: expected milliseconds, a number with ms, s, m, h or d, or forever'],
    ['failed=-1', 'failed=-1: expected milliseconds'],
    ['succeeded=1h,succeeded=0', 'succeeded is given twice'],
  ])('refuses %s before anything else (exit 64)', async (spec, message) => {
    const line = await oneLine(['work', '--tasks', 'missing.js', '--retention', spec], 64, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    })
    expect(line).toContain(`--retention: ${message}`)
  })
})

describe('the tasks module', () => {
  it('a missing file is named with the path it was looked for at (exit 78)', async () => {
    const line = await oneLine(['work', '--tasks', join(dir, 'taks.js'), '--database-url', NO_DB], 78)
    expect(line).toContain(`tasks module not found: ${join(dir, 'taks.js')}`)
    expect(line).toContain('--tasks dist/tasks.js')
  })

  it('pgq dev finds a missing file before starting any database', async () => {
    const line = await oneLine(['dev', '--tasks', join(dir, 'taks.js'), '--data-dir', join(dir, 'data')], 78)
    expect(line).toContain('tasks module not found')
  })

  it('a syntax error names the file and line (JavaScript)', async () => {
    const line = await oneLine(['work', '--tasks', join(dir, 'broken.js'), '--database-url', NO_DB], 78)
    expect(line).toBe(
      `pgq: cannot load the tasks module ${join(dir, 'broken.js')}: SyntaxError at ${join(dir, 'broken.js')}:5: Unexpected end of input (exit 78)`,
    )
  })

  it('a syntax error in a module it imports names that file', async () => {
    const line = await oneLine(
      ['work', '--tasks', join(dir, 'imports-broken.js'), '--database-url', NO_DB],
      78,
    )
    expect(line).toContain(`SyntaxError at ${join(dir, 'broken.js')}:5`)
  })

  it('a syntax error names the file, line and column (TypeScript)', async () => {
    const line = await oneLine(['work', '--tasks', join(dir, 'broken.ts'), '--database-url', NO_DB], 78)
    expect(line).toMatch(
      new RegExp(
        `cannot load the tasks module .*broken\\.ts: SyntaxError at ${join(dir, 'broken.ts')}:3:\\d+: `,
      ),
    )
  })
})
