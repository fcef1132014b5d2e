// The dashboard driven by a real browser: Debian's chromium through playwright-core (no browser is
// downloaded; without /usr/bin/chromium the tests fail and say how to install it). Same global setup
// as the main suite (embedded PostgreSQL, or $DATABASE_URL). Run by `npm run test:browser`; `.ci/run`
// installs chromium and runs them.
import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/test/**/*.browser.ts'],
    // A page on a busy 2-core machine needs more than expect.poll's default second.
    expect: { poll: { timeout: 10_000, interval: 50 } },
  },
})
