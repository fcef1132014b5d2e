// pgq's internal entry ('@pgq/core/internal'): the parts the CLI and @pgq/embedded build on. No stability
// promise: names here change with the code. Applications import from '@pgq/core' only.
export { assertJobId } from './admin/job-filter.js'
export { FINAL_STATES, JOB_STATES } from './admin/job-record.js'
export type { FinishedCounts } from './admin/job-stats.js'
export { Jobs, type JobsOptions } from './admin/jobs.js'
export { queueLags } from './admin/queue-lag.js'
export { Queues, type QueuesOptions } from './admin/queues.js'
export type { PgqConfig } from './client/config.js'
export { Pgq } from './client/pgq.js'
export { ResultWaiter, type ResultWaiterOptions } from './client/result-waiter.js'
export { assertName, assertSchemaName } from './db/identifiers.js'
export { silentLogger } from './logger.js'
export { toLogger } from './logger-formats.js'
export { Pruner, type PrunerOptions } from './maintenance/pruner.js'
export { LATEST_MIGRATION, MIGRATIONS, type MigrationSource, renderMigration } from './migrate/migrations.js'
export { type MigrationStatus, Migrator, type MigratorOptions } from './migrate/migrator.js'
export { type JobEvent, parseJobEvent, parseQueueWake, type QueueWake } from './notify/messages.js'
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
  ON_TIME_GRACE_MS,
  type PlannedFire,
  planFires,
} from './schedule/fire-plan.js'
export {
  collectScheduleDefinitions,
  isScheduleDefinition,
  type ScheduleValidation,
} from './schedule/schedule-definition.js'
export {
  ScheduleEnqueuer,
  type ScheduleEnqueuerOptions,
  type TickResult,
} from './schedule/schedule-enqueuer.js'
export { Schedules, type SchedulesOptions } from './schedule/schedules.js'
export { assertTimeZone, formatInZone } from './schedule/time-zone.js'
export { DEFAULT_MAX_PAYLOAD_BYTES, serializeJson } from './task/payload.js'
export { type RetryPolicy, resolveRetryPolicy } from './task/retry-policy.js'
export { parseDuration } from './util/duration.js'
export { assertInt, assertOptions, optionKeys } from './util/validate.js'
export { Worker } from './worker/worker.js'
