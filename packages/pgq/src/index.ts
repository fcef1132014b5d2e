export type { PgqOptions } from './config.js'
export type { Executor, KyselyLike, PgQueryable } from './db/executor.js'
export { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded.js'
export type { EnqueuedJob, EnqueueOptions, JobSpec } from './enqueue.js'
export {
  PgqError,
  PgqMigrationError,
  PgqSchemaVersionError,
  PgqValidationError,
} from './errors.js'
export { assertName, assertSchemaName } from './identifiers.js'
export { LATEST_MIGRATION, MIGRATIONS, type MigrationSource, renderMigration } from './migrations.js'
export { type MigrationResult, type MigrationStatus, Migrator, type MigratorOptions } from './migrator.js'
export { DEFAULT_MAX_PAYLOAD_BYTES, type JsonValue, serializeJson } from './payload.js'
export { createPgq, Pgq } from './pgq.js'
export { type RetryPolicy, type RetryPolicyOptions, resolveRetryPolicy } from './retry-policy.js'
export {
  type AnyTaskDefinition,
  defineTask,
  type TaskContext,
  type TaskDefinition,
  type TaskHandler,
  type TaskOptions,
} from './task.js'
