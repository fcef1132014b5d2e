// The public API of pgq: the client, tasks, schedules, errors and the types they use. Everything
// else (the worker's parts, the migrator, the scheduler, cron helpers) is internal: the CLI and
// @pgq/embedded import it from '@pgq/core/internal', which carries no stability promise.
export type { JobFilter, JobId } from './admin/job-filter.js'
export type { Job, JobErrorEntry, JobState, JobSummary } from './admin/job-record.js'
export type { JobStats, QueueStats } from './admin/job-stats.js'
export type { AdminOptions, JobListFilter, Jobs, RetryOptions } from './admin/jobs.js'
export type { QueueInfo, QueueLimitsInput, Queues } from './admin/queues.js'
export { type WorkerInfo, WorkerList, type WorkerListOptions } from './admin/workers.js'
export type { PgqOptions } from './client/config.js'
export {
  type DedupMode,
  type EnqueuedJob,
  type EnqueueOptions,
  type EnqueueOutcome,
  type JobSpec,
  jobSpec,
} from './client/enqueue.js'
export type { FlowEnqueueOptions } from './client/flow-options.js'
export { createPgq, type Pgq } from './client/pgq.js'
export type { WaitOptions } from './client/result-waiter.js'
export type { DrizzleLike, Executor, KnexLike, KyselyLike, PgQueryable, PrismaLike } from './db/executor.js'
export type {
  DedupWindowsTable,
  FailingTasksView,
  IntervalValue,
  JobCountsView,
  JobDependenciesTable,
  JobsTable,
  Json,
  MigrationsTable,
  PgqDatabase,
  PgqTables,
  QueueKeyBucketsTable,
  QueueLagView,
  QueueStatusView,
  QueuesTable,
  RunningJobsView,
  SchedulesTable,
  TasksTable,
  Timestamp,
  UnknownTasksView,
  WorkerStatusView,
  WorkersTable,
  WorkflowJobsView,
  WorkflowNodesTable,
  WorkflowsTable,
} from './db/tables.js'
export {
  JobCancelledError,
  type JobErrorRecord,
  JobExpiredError,
  JobFailedError,
  JobNotFoundError,
  JobTimeoutError,
  JobTransactionError,
  PgqError,
  PgqMigrationError,
  PgqSchemaVersionError,
  PgqValidationError,
  WorkflowRetryRefusedError,
} from './errors.js'
export { createLineLogger, type LogFields, type Logger, type LogLevel } from './logger.js'
export { createJsonLogger, type FieldsFirstLogger, fromPino, PINO_LEVELS } from './logger-formats.js'
export type { MigrationResult } from './migrate/migrator.js'
export type { MissedPolicy } from './schedule/fire-plan.js'
export {
  defineSchedule,
  type ScheduleDefinition,
  type ScheduleOptions,
} from './schedule/schedule-definition.js'
export { PgqScheduleNotFoundError, type ScheduleInfo, type Schedules } from './schedule/schedules.js'
export type { ConcurrencyKeySource } from './task/concurrency-key.js'
export { JobAbortedError, PermanentError, type Snooze, snooze } from './task/job-outcome.js'
export { type JsonValue, MAX_JSON_DEPTH } from './task/payload.js'
export type { PayloadValidator, StandardResult, StandardSchemaLike } from './task/payload-validation.js'
export type { RetryPolicyOptions } from './task/retry-policy.js'
export type {
  InferSchemaInput,
  InferSchemaOutput,
  StandardSchemaIssue,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaV1,
} from './task/standard-schema.js'
export { SleepInterrupt, StepError, type StepErrorCode } from './task/step-errors.js'
export {
  type AnyTaskDefinition,
  defineTask,
  type SchemaTaskOptions,
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
export type { RunSpanOutcome } from './tracing/run-span.js'
export type { TraceCarrier } from './tracing/trace-context.js'
export type { JobInfo, WorkerEventMap } from './worker/events.js'
export type { WorkerHealth } from './worker/health.js'
export { AttemptEndedError, HandlerCrashedError, HardTimeLimitError } from './worker/isolation/errors.js'
export type { IsolationMode } from './worker/isolation/handler-runner.js'
export type { TaskIsolationOptions, WorkerIsolationOptions } from './worker/isolation/isolation-config.js'
export type { LeaseLostReason } from './worker/lease-renewer.js'
export type { WorkerHandle } from './worker/lifetime.js'
export type { Worker } from './worker/worker.js'
export type { RetentionOptions, WorkerOptions } from './worker/worker-config.js'
export {
  chain,
  chord,
  chordSettled,
  type Flow,
  type FlowLike,
  type GroupResults,
  group,
  job,
  type MemberOutcome,
  type NodeOptions,
  type Settled,
  step,
} from './workflow/canvas.js'
export type {
  CreatedWorkflow,
  CreateWorkflowOptions,
  WorkflowInfo,
  WorkflowPolicy,
  WorkflowState,
  Workflows,
} from './workflow/workflows.js'
