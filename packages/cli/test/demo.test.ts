// `pgq demo` as a newcomer runs it: a real child process on an embedded PostgreSQL, twice on the
// same data folder. It must exit 0 by itself, show the whole scenario, keep the jobs of the first
// run, and print no payloads.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from './run-cli.js'

const root = mkdtempSync(join(tmpdir(), 'pgq-demo-'))
chmodSync(root, 0o755) // as root, PostgreSQL runs as the `postgres` user, which must enter it
const dataDir = join(root, 'data')
afterAll(() => rmSync(root, { recursive: true, force: true }))

const demo = () => runCli(['demo', '--data-dir', dataDir], { DATABASE_URL: undefined }, 90_000)

describe('pgq demo', () => {
  it('runs the tour, exits 0, and a second run finds the first run’s jobs', {
    timeout: 180_000,
  }, async () => {
    const first = await demo()
    expect(first, first.stderr).toMatchObject({ code: 0 })
    expect(first.stdout).toContain('no jobs in the database yet')
    for (const line of [
      /POST \/videos\/101\/process → 202/,
      /POST \/register → 201/,
      /POST \/register → 409/,
      /POST \/reports → 202/,
      /▶ job \d+ process_video started \(queue heavy_compute/,
      /GET \/jobs\/\d+ → running, progress 50% \(rendering\)/,
      /↻ job \d+ sync_crm failed on attempt 1\/4: CRM answered 503/,
      /✓ job \d+ sync_crm succeeded in \d+ ms \(attempt 2\)/,
      /sched {2}schedule fired: job \d+ cleanup_temp_files/,
      /clean-up job \d+ deleted/,
      /psql postgres:\/\//,
    ]) {
      expect(first.stdout).toMatch(line)
    }
    const made = Number(/the database now holds (\d+) jobs/.exec(first.stdout)?.[1])
    expect(made).toBeGreaterThanOrEqual(7)
    // the tour registers demo-<timestamp>@example.com: payloads like it never reach the output
    expect(first.stdout + first.stderr).not.toMatch(/@example\.com/)

    const second = await demo()
    expect(second, second.stderr).toMatchObject({ code: 0 })
    const earlier = Number(/(\d+) jobs from earlier runs are still in the database/.exec(second.stdout)?.[1])
    expect(earlier).toBeGreaterThanOrEqual(made)
    expect(second.stdout).toContain('reopened the data of earlier runs')
  })
})
