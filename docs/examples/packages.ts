// Samples of README.md and docs/getting-started.md: one import line per entry point a user imports.

// #region imports
import { createPgq, defineTask } from '@pgq/core' // the library: tasks, enqueue, workers, results
import { metricsHandler } from '@pgq/core/metrics' // Prometheus metrics (with prom-client installed)
import { createTestSchema } from '@pgq/core/testing' // your test suites: vitest, jest, node:test
import { startDev } from '@pgq/embedded' // a PostgreSQL from npm for development (comes with @pgq/cli)

const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
// #endregion imports

export const samples = { createTestSchema, defineTask, metricsHandler, pgq, startDev }
