export { type AppDeps, buildApp } from './app.js'
export { type JobView, jobView } from './job-view.js'
export {
  pipelineView,
  type StartedPipeline,
  startPipeline,
  videoPipeline,
} from './pipeline.js'
export { type AppTables, appTables, migrateApp } from './schema.js'
export {
  CrmUnavailableError,
  createTasks,
  type TaskDeps,
  type Thumbnail,
  type VideoTasks,
} from './tasks.js'
export { startVideoApp, type VideoApp, type VideoAppOptions } from './video-app.js'
export {
  type CleanupScheduleOptions,
  cleanupSchedule,
  createVideoWorker,
  QUEUES,
  type VideoWorkerOptions,
} from './worker.js'
