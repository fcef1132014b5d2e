// Samples of docs/operations.md.
import { createLineLogger, createPgq, defineTask, WorkerList } from '@pgq/core'
import { metrics, pool } from './stubs.js'

const sendEmail = defineTask({ name: 'send_email', queue: 'emails', handler: async () => ({ sent: true }) })

// #region worker-process
// worker.ts: one process per container; scale by adding containers.
const pgq = createPgq({ connectionString: process.env.DATABASE_URL, poolSize: 12 })
const worker = pgq.createWorker({
  tasks: [sendEmail],
  queues: { emails: 10 },
  shutdownGraceMs: 25_000, // below your orchestrator's kill timeout (Kubernetes: 30 s by default)
  logger: createLineLogger('info'), // one line per event to stderr; never payloads
})
const { closed } = await worker.start() // from here the worker keeps the process up until stop()
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void worker.stop()) // stop claiming, finish or release, deregister
}
try {
  await closed // resolves after stop(); rejects only on a fatal condition (schema changed under it)
  await pgq.close()
} catch (error) {
  console.error(`worker stopped: ${(error as Error).message}`)
  process.exitCode = 78 // a configuration problem: a supervisor should not restart in a loop
  await pgq.close()
}
// #endregion worker-process

export function behindPgBouncer() {
  // #region pgbouncer
  // Statements go through PgBouncer (transaction pooling); the client's one LISTEN connection
  // (worker wake-ups, cancellation, waitFor) goes straight to PostgreSQL.
  const pooled = createPgq({
    connectionString: process.env.PGBOUNCER_URL,
    listenConnectionString: process.env.DIRECT_DATABASE_URL,
    preparedStatements: false, // PgBouncer < 1.21 in transaction mode (1.21+: keep the default)
  })
  const listening = pooled.createWorker({ tasks: [sendEmail] }) // prepared statements: detected at start
  // …or no LISTEN at all: poll only, every pollIntervalMs
  const pollOnly = pooled.createWorker({ tasks: [sendEmail], listen: false, pollIntervalMs: 500 })
  // #endregion pgbouncer
  return [listening, pollOnly]
}

// #region metrics
worker.on('job:succeeded', ({ job, durationMs }) =>
  metrics.timing('jobs.duration', durationMs, { task: job.task }),
)
worker.on('job:retry', ({ job }) => metrics.increment('jobs.retried', { task: job.task }))
worker.on('job:failed', ({ job }) => metrics.increment('jobs.failed', { task: job.task }))
worker.on('worker:error', ({ component, error }) => console.error(`pgq ${component}: ${error.message}`))

setInterval(async () => {
  const { queues } = await pgq.jobs.stats()
  for (const q of queues) {
    metrics.gauge('queue.waiting', q.waiting, { queue: q.queue })
    metrics.gauge('queue.lag_ms', q.lagMs, { queue: q.queue }) // age of the oldest due job
  }
}, 15_000).unref()
// #endregion metrics

export async function healthCheck() {
  // #region health
  // Celery's inspect().ping(): which workers have beaten their heart lately? (pgq workers, pgq health)
  const alive = await new WorkerList({ pool, schema: 'pgq' }).alive()
  return { ok: alive.length > 0, workers: alive.map((w) => `${w.hostname}:${w.pid} ${w.queues.join(',')}`) }
  // #endregion health
}
