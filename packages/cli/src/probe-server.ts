// The HTTP port of `pgq work --http-port`: Prometheus metrics and container probes.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Pgq, Worker } from '@pgq/core'
import { collectQueueMetrics, collectWorkerMetrics, metricsHandler } from '@pgq/core/metrics'
import { Registry } from 'prom-client'
import { CliExit, EXIT_CODES } from './lifetime.js'

/** A running probe server: its address, and how to close it. */
export interface ProbeServer {
  /** `http://host:port`, with the port the system chose for `--http-port 0`. */
  readonly url: string
  close(): Promise<void>
}

/**
 * Serves, for one worker: `/metrics` (the worker's counters and the queue gauges, in the Prometheus
 * text format), `/healthz` (liveness: 200 while the worker starts or runs, 503 once it stops or
 * stopped itself on a fatal error) and `/readyz` (200 while it runs and the database answered
 * within 3 heartbeats, else 503). Anything else is 404. A port that cannot be bound exits 78.
 *
 * ```ts
 * const probes = await startProbeServer({ worker, pgq, host: '127.0.0.1', port: 9464 })
 * await worker.stop(); await probes.close()
 * ```
 */
export async function startProbeServer(options: {
  readonly worker: Worker
  readonly pgq: Pgq
  readonly host: string
  readonly port: number
}): Promise<ProbeServer> {
  const { worker, pgq, host, port } = options
  const registry = new Registry()
  collectWorkerMetrics(worker, { registry })
  collectQueueMetrics(pgq, { registry })
  const serveMetrics = metricsHandler(registry)
  const probe = (res: http.ServerResponse, ok: boolean, body: object) => {
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(`${JSON.stringify(body)}\n`)
  }
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const health = worker.health
    if (path === '/metrics') void serveMetrics(req, res)
    else if (path === '/healthz') probe(res, health.live || health.state === 'new', health)
    else if (path === '/readyz') probe(res, health.ready, health)
    else
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n')
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new CliExit(EXIT_CODES.config, `--http-port: cannot listen on ${host}:${port}: ${error.message}`),
      ),
    )
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
