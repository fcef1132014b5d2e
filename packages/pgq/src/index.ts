export type { PgqOptions } from './config.js'
export { type CronSpec, fireTimes, nextFireTime, nextFireTimes, parseCron } from './cron.js'
export type { Executor, KyselyLike, PgQueryable } from './db/executor.js'
export { type DevEnvironment, type DevOptions, startDev } from './dev.js'
export { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded.js'
export { type EnqueuedJob, type EnqueueOptions, type JobSpec, jobSpec } from './enqueue.js'
export {
  JobCancelledError,
  type JobErrorRecord,
  JobFailedError,
  JobNotFoundError,
  JobTimeoutError,
  PgqError,
  PgqMigrationError,
  PgqSchemaVersionError,
  PgqValidationError,
} from './errors.js'
export type { JobInfo, WorkerEventMap } from './events.js'
export {
  type FirePlan,
  MISSED_POLICIES,
  type MissedPolicy,
  ON_TIME_GRACE_MS,
  type PlannedFire,
  planFires,
} from './fire-plan.js'
export { assertName, assertSchemaName } from './identifiers.js'
export { assertJobId, type JobFilter, type JobId } from './job-filter.js'
export { JobAbortedError, PermanentError, type Snooze, snooze } from './job-outcome.js'
export {
  FINAL_STATES,
  JOB_STATES,
  type Job,
  type JobErrorEntry,
  type JobState,
  type JobSummary,
} from './job-record.js'
export type { FinishedCounts, JobStats, QueueStats } from './job-stats.js'
export { type AdminOptions, type JobListFilter, Jobs, type JobsOptions, type RetryOptions } from './jobs.js'
export { createLineLogger, type LogFields, type Logger, type LogLevel, silentLogger } from './logger.js'
export { LATEST_MIGRATION, MIGRATIONS, type MigrationSource, renderMigration } from './migrations.js'
export { type MigrationResult, type MigrationStatus, Migrator, type MigratorOptions } from './migrator.js'
export { DEFAULT_MAX_PAYLOAD_BYTES, type JsonValue, serializeJson } from './payload.js'
export { createPgq, Pgq } from './pgq.js'
export { Pruner, type PrunerOptions } from './pruner.js'
export { ResultWaiter, type ResultWaiterOptions, type WaitOptions } from './result-waiter.js'
export { type RetryPolicy, type RetryPolicyOptions, resolveRetryPolicy } from './retry-policy.js'
export {
  collectScheduleDefinitions,
  defineSchedule,
  isScheduleDefinition,
  type ScheduleDefinition,
  type ScheduleOptions,
  type ScheduleValidation,
} from './schedule-definition.js'
export { ScheduleEnqueuer, type ScheduleEnqueuerOptions, type TickResult } from './schedule-enqueuer.js'
export { PgqScheduleNotFoundError, type ScheduleInfo, Schedules, type SchedulesOptions } from './schedules.js'
export {
  type AnyTaskDefinition,
  defineTask,
  type TaskContext,
  type TaskDefinition,
  type TaskHandler,
  type TaskOptions,
} from './task.js'
export { assertTimeZone, formatInZone } from './time-zone.js'
export { Worker } from './worker.js'
export type { RetentionOptions, WorkerOptions } from './worker-config.js'
