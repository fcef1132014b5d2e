// Samples of docs/observability.md.
import http from 'node:http'
import { createPgq, defineTask, WorkerList } from '@pgq/core'
import { collectQueueMetrics, collectWorkerMetrics, metricsHandler } from '@pgq/core/metrics'
import { Registry } from 'prom-client'
import { pool } from './stubs.js'

const sendEmail = defineTask({ name: 'send_email', queue: 'emails', handler: async () => ({ sent: true }) })

export async function ownWorkerProcess() {
  // #region own-process
  // worker.ts: a worker of your own with a metrics and probe port
  const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
  const worker = pgq.createWorker({ tasks: [sendEmail], queues: { emails: 10 } })

  const registry = new Registry() // or prom-client's global `register`, the default
  collectWorkerMetrics(worker, { registry }) // counters and histograms from this worker's events
  collectQueueMetrics(pgq, { registry }) // gauges read from the database when scraped
  const serveMetrics = metricsHandler(registry)

  const server = http.createServer((req, res) => {
    const { live, ready } = worker.health
    if (req.url === '/metrics') void serveMetrics(req, res)
    else if (req.url === '/healthz') res.writeHead(live ? 200 : 503).end()
    else if (req.url === '/readyz') res.writeHead(ready ? 200 : 503).end()
    else res.writeHead(404).end()
  })
  server.listen(9464, '0.0.0.0')
  await worker.start()
  process.once('SIGTERM', async () => {
    await worker.stop()
    server.close()
    await pgq.close()
  })
  // #endregion own-process
}

export async function webProcessMetrics() {
  // #region web-process
  // in a web server that does not run workers: queue gauges only, on the global registry
  const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
  collectQueueMetrics(pgq)
  const serveMetrics = metricsHandler() // prom-client's global `register`
  http.createServer((req, res) => void serveMetrics(req, res)).listen(9465)
  // #endregion web-process
}

export async function whoIsAlive() {
  // #region workers
  // Celery's inspect().ping(): the live workers, from their heartbeats
  const workers = await new WorkerList({ pool, schema: 'pgq' }).list({ goneWithinMs: 3_600_000 })
  for (const w of workers) {
    console.log(w.hostname, w.pid, w.status, w.queues.join(','), `${w.runningJobs} running`)
  }
  const alive = workers.filter((w) => w.status === 'alive')
  return { ok: alive.length > 0, alive }
  // #endregion workers
}
