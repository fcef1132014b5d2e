// Tests that need a system package a fresh machine with only Node.js and npm does not have:
// Debian's `pgbouncer`. Same global setup as the main suite (embedded PostgreSQL, or $DATABASE_URL).
// Run by `npm run test:system`; `.ci/run` installs what they need and runs them on both majors.
import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

export default defineConfig({
  ...base,
  test: { ...base.test, include: ['packages/*/test/**/*.system.ts'] },
})
