// Smoke of the on-demand idle-workers measurement (bench/src/idle-workers.ts): two real worker
// processes from bench/dist (built by `npm test`'s `tsc -b`), three jobs. The figures themselves
// are recorded in docs/benchmarks.md from runs with 10 and 100 workers.
import { expect, inject, test } from 'vitest'
import { measureIdleWorkers } from '../src/idle-workers-measure.js'

test('idle workers: connections are counted and every job costs one successful claim', async () => {
  const result = await measureIdleWorkers({
    databaseUrl: inject('databaseUrl'),
    workers: 2,
    jobs: 3,
    settleMs: 300,
    gapMs: 50,
  })
  expect(result.workers).toBe(2)
  // Each worker process holds its LISTEN connection and at least one pool connection.
  expect(result.backendsByApplication.pgq_listener).toBeGreaterThanOrEqual(2)
  expect(result.backendsByApplication.pgq_idle_worker).toBeGreaterThanOrEqual(2)
  // Jobs are enqueued one at a time, so exactly one claim per job returns it; the idle rate
  // subtracted from both counts consists of empty claims only.
  expect(result.perJob.claims - result.perJob.emptyClaims).toBeCloseTo(1, 6)
  expect(result.perJob.statements).toBeGreaterThanOrEqual(result.perJob.claims)
  expect(result.latencyP50Ms).toBeGreaterThan(0)
  expect(result.latencyP99Ms).toBeGreaterThanOrEqual(result.latencyP50Ms)
  expect(result.winners).toBeGreaterThanOrEqual(1)
}, 120_000)
