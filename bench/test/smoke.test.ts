// CI smoke of the benchmark harness: a few hundred jobs through the raw-SQL system and pgq, the
// report written to a temp dir (never docs/). Speed itself is judged by `pnpm bench`, not here.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, inject, test } from 'vitest'
import { SMOKE } from '../src/config.js'
import { harnessPool, serverSettings } from '../src/database.js'
import { buildReport } from '../src/report.js'
import { ident } from '../src/sql-names.js'
import { runSuite } from '../src/suite.js'
import { writeReport } from '../src/write-report.js'

const suffix = `_${randomBytes(4).toString('hex')}`
const pool = harnessPool(inject('databaseUrl'))
const dir = mkdtempSync(join(tmpdir(), 'pgq-bench-smoke-'))

afterAll(async () => {
  for (const schema of [`bench_raw${suffix}`, `bench_pgq${suffix}`]) {
    await pool.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`)
  }
  await pool.end()
  rmSync(dir, { recursive: true, force: true })
})

test('the harness measures raw SQL and pgq and writes the tables', async () => {
  const env = { databaseUrl: inject('databaseUrl'), redisUrl: null, suffix }
  const run = await runSuite({
    config: SMOKE,
    env,
    systems: ['raw-sql', 'pgq'],
    harnessPool: pool,
    log: () => {},
  })
  const report = buildReport(run, {
    config: SMOKE,
    databaseSource: 'test database',
    settings: await serverSettings(pool),
    pgqRevision: 'test',
    skipped: [],
  })
  writeReport(report, join(dir, 'benchmarks.md'), join(dir, 'benchmarks.json'))

  const markdown = readFileSync(join(dir, 'benchmarks.md'), 'utf8')
  expect(markdown).toContain('### Targets (pgq, ratios within this run)')
  expect(markdown).toContain('| raw-sql |')
  for (const metric of ['bulk', 'single', 'drainDefaults', 'latencyP50', 'io'] as const) {
    expect(run.results.median(metric, 'raw-sql')).toBeGreaterThan(0)
    const pgq = run.results.entries[metric]?.pgq
    // pgq is measured, or says plainly that its worker is not there yet; it never errors.
    expect(pgq?.status, `${metric}: ${pgq?.notes.join('; ')}`).not.toBe('error')
    if (pgq?.status === 'ok') expect(run.results.median(metric, 'pgq')).toBeGreaterThan(0)
  }
  // the workflow row: pgq only, beside plain jobs on the same worker
  // 32 producers: with and without NOTIFY (pgq also runs its statement copy with NOTIFY)
  for (const metric of ['producers', 'producersNoNotify'] as const) {
    expect(run.results.median(metric, 'raw-sql')).toBeGreaterThan(0)
    expect(run.results.median(metric, 'pgq')).toBeGreaterThan(0)
  }
  expect(run.results.median('producersStatement', 'pgq')).toBeGreaterThan(0)
  expect(run.results.entries.producersStatement?.['raw-sql']).toBeUndefined()
  for (const metric of ['fanInPlain', 'fanInChord'] as const) {
    expect(run.results.median(metric, 'pgq')).toBeGreaterThan(0)
    expect(run.results.entries[metric]?.['raw-sql']).toBeUndefined()
  }
  expect(markdown).toContain('### Workflow: group of as many members + chord callback')
  expect(JSON.parse(readFileSync(join(dir, 'benchmarks.json'), 'utf8')).mode).toBe('smoke')
})
