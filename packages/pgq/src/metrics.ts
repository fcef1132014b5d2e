// pgq's Prometheus entry ('@pgq/core/metrics'): the only module that imports prom-client, an optional
// peer dependency (install it to use this entry). See docs/observability.md.
export { metricsHandler } from './observe/metrics-handler.js'
export { collectQueueMetrics, type QueueMetricsOptions } from './observe/queue-metrics.js'
export {
  type CompletedOutcome,
  collectWorkerMetrics,
  RUN_SECONDS_BUCKETS,
  WAIT_SECONDS_BUCKETS,
  type WorkerMetricsOptions,
} from './observe/worker-metrics.js'
