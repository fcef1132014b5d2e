// @pgq/core/testing: helpers for an application's own test suite (vitest, jest, node:test). See
// docs/testing.md. Every helper works on a real PostgreSQL: an isolated schema per test file.
export { PgqExpectationError } from '../errors.js'
export type { JobRun } from './job-runner.js'
export {
  createTestSchema,
  type DrainOptions,
  type EnqueuedFilter,
  type EnqueuedJobRecord,
  type TestSchema,
  type TestSchemaOptions,
} from './test-schema.js'
