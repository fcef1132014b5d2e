import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'bench/test/**/*.test.ts',
      'docs/test/**/*.test.ts',
    ],
    globalSetup: ['./packages/pgq/test/global-setup.ts'],
    hookTimeout: 60_000,
    testTimeout: 60_000,
    // Each file gets its own schema, so files may run in parallel against one cluster.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
