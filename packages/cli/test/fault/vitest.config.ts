// The fault suite: real `pgq work` / `pgq dev` processes against private PostgreSQL clusters the
// suite stops and starts. Run by `npm run test:fault` (PostgreSQL 18, then 15 when installed).
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: new URL('../../../..', import.meta.url).pathname,
    include: ['packages/cli/test/fault/**/*.fault.ts'],
    // each file makes its own clusters, so files run side by side; their long waits overlap
    fileParallelism: true,
    maxWorkers: 4,
    hookTimeout: 120_000,
    testTimeout: 900_000,
  },
})
