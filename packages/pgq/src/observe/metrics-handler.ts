import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Registry, register } from 'prom-client'

/**
 * A request handler that serves `registry` in the Prometheus text format (any path, GET or HEAD;
 * other methods get 405). Mount it at `/metrics` in `node:http`, Express or Fastify (`reply.raw`).
 * A registry that cannot be read answers 500 with the error's message.
 *
 * ```ts
 * import http from 'node:http'
 * import { metricsHandler } from '@pgq/core/metrics'
 *
 * const serveMetrics = metricsHandler(registry)
 * http.createServer((req, res) => (req.url === '/metrics' ? serveMetrics(req, res) : res.end())).listen(9464)
 * ```
 */
export function metricsHandler(
  registry: Registry = register,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    try {
      const body = await registry.metrics()
      res.writeHead(200, { 'content-type': registry.contentType })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(`metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`)
    }
  }
}
