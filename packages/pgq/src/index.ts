export { assertJobId, type JobFilter, type JobId } from './admin/job-filter.js'
export {
  FINAL_STATES,
  JOB_STATES,
  type Job,
  type JobErrorEntry,
  type JobState,
  type JobSummary,
} from './admin/job-record.js'
export type { FinishedCounts, JobStats, QueueStats } from './admin/job-stats.js'
export {
  type AdminOptions,
  type JobListFilter,
  Jobs,
  type JobsOptions,
  type RetryOptions,
} from './admin/jobs.js'
export type { PgqOptions } from './client/config.js'
export {
  type DedupMode,
  type EnqueuedJob,
  type EnqueueOptions,
  type EnqueueOutcome,
  type JobSpec,
  jobSpec,
} from './client/enqueue.js'
export { createPgq, Pgq } from './client/pgq.js'
export { ResultWaiter, type ResultWaiterOptions, type WaitOptions } from './client/result-waiter.js'
export type { Executor, KyselyLike, PgQueryable } from './db/executor.js'
export { assertName, assertSchemaName } from './db/identifiers.js'
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
export { createLineLogger, type LogFields, type Logger, type LogLevel, silentLogger } from './logger.js'
export { Pruner, type PrunerOptions } from './maintenance/pruner.js'
export { LATEST_MIGRATION, MIGRATIONS, type MigrationSource, renderMigration } from './migrate/migrations.js'
export {
  type MigrationResult,
  type MigrationStatus,
  Migrator,
  type MigratorOptions,
} from './migrate/migrator.js'
export {
  type NotificationHandler,
  Notifier,
  type NotifierOptions,
  type Unsubscribe,
} from './notify/notifier.js'
export { type CronSpec, fireTimes, nextFireTime, nextFireTimes, parseCron } from './schedule/cron.js'
export {
  type FirePlan,
  MISSED_POLICIES,
  type MissedPolicy,
  ON_TIME_GRACE_MS,
  type PlannedFire,
  planFires,
} from './schedule/fire-plan.js'
export {
  collectScheduleDefinitions,
  defineSchedule,
  isScheduleDefinition,
  type ScheduleDefinition,
  type ScheduleOptions,
  type ScheduleValidation,
} from './schedule/schedule-definition.js'
export {
  ScheduleEnqueuer,
  type ScheduleEnqueuerOptions,
  type TickResult,
} from './schedule/schedule-enqueuer.js'
export {
  PgqScheduleNotFoundError,
  type ScheduleInfo,
  Schedules,
  type SchedulesOptions,
} from './schedule/schedules.js'
export { assertTimeZone, formatInZone } from './schedule/time-zone.js'
export { JobAbortedError, PermanentError, type Snooze, snooze } from './task/job-outcome.js'
export { DEFAULT_MAX_PAYLOAD_BYTES, type JsonValue, MAX_JSON_DEPTH, serializeJson } from './task/payload.js'
export type { PayloadValidator, StandardResult, StandardSchemaLike } from './task/payload-validation.js'
export { type RetryPolicy, type RetryPolicyOptions, resolveRetryPolicy } from './task/retry-policy.js'
export {
  type AnyTaskDefinition,
  defineTask,
  type TaskContext,
  type TaskDefinition,
  type TaskHandler,
  type TaskOptions,
} from './task/task.js'
export {
  PgqUnknownTaskError,
  type RegisteredTask,
  TaskRegistry,
  type TaskRegistryOptions,
  type UnknownTask,
} from './task/task-registry.js'
export type { JobInfo, WorkerEventMap } from './worker/events.js'
export { AttemptEndedError, HandlerCrashedError, HardTimeLimitError } from './worker/isolation/errors.js'
export { ISOLATION_MODES, type IsolationMode } from './worker/isolation/handler-runner.js'
export type { TaskIsolationOptions, WorkerIsolationOptions } from './worker/isolation/isolation-config.js'
export type { LeaseLostReason } from './worker/lease-renewer.js'
export { Worker, type WorkerHandle } from './worker/worker.js'
export type { RetentionOptions, WorkerOptions } from './worker/worker-config.js'
