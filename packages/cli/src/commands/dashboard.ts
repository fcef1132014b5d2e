import http from 'node:http'
import { createPgq } from '@pgq/core'
import { Migrator } from '@pgq/core/internal'
import { collectQueueMetrics, metricsHandler } from '@pgq/core/metrics'
import { createDashboard } from '@pgq/dashboard'
import type { Command } from 'commander'
import { Registry } from 'prom-client'
import { waitForDatabase } from '../connect.js'
import { intOption } from '../format.js'
import { CliExit, EXIT_CODES, holdUntilSignal } from '../lifetime.js'
import { createCliLogger, type LogOptions, withLogOptions } from '../log-format.js'
import { type ConnectionOptions, openPool, withConnectionOptions } from '../options.js'

interface DashboardCommandOptions extends ConnectionOptions, LogOptions {
  readonly port: number
  readonly host: string
  readonly basePath: string
  readonly readOnly?: boolean
  readonly connectTimeout: number
}

/**
 * `pgq dashboard`: serves the web dashboard (overview, jobs, schedules, workers, actions, live
 * updates) on `--host:--port` under `--base-path` until SIGINT/SIGTERM. It has no login of its own:
 * it listens on 127.0.0.1 by default; put it behind your own authentication to expose it.
 */
export function registerDashboard(program: Command): void {
  withConnectionOptions(
    withLogOptions(program.command('dashboard'))
      .description('serve the web dashboard (queues, jobs, schedules, workers) until SIGINT/SIGTERM')
      .option('--port <n>', 'TCP port', intOption(0, 65_535), 4100)
      .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
      .option('--base-path <path>', 'serve under this path, e.g. /admin/pgq', '')
      .option('--read-only', 'show everything, allow no action')
      .option(
        '--connect-timeout <ms>',
        'at start, wait this long for an unreachable database before exiting 69',
        intOption(0, 3_600_000),
        60_000,
      ),
  ).action(async (options: DashboardCommandOptions) => {
    const logger = createCliLogger(options)
    const pool = openPool(options, 5)
    const pgq = createPgq({ pool, schema: options.schema })
    // <base>/metrics: the queue gauges read from the database at scrape time (depth, lag, live
    // workers); the job counters live in the workers (`pgq work --http-port`)
    const registry = new Registry()
    collectQueueMetrics(pgq, { registry })
    let dashboard: ReturnType<typeof createDashboard>
    try {
      dashboard = createDashboard({
        pgq,
        basePath: options.basePath,
        readOnly: options.readOnly === true,
        metrics: metricsHandler(registry),
        logger,
      })
    } catch (error) {
      await pool.end()
      throw new CliExit(EXIT_CODES.usage, error instanceof Error ? error.message : String(error))
    }
    const server = http.createServer((req, res) => {
      dashboard.handle(req, res).then(
        (handled) => {
          if (!handled) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
        },
        () => res.destroy(),
      )
    })
    await waitForDatabase(pool, options.connectTimeout, logger)
    await new Migrator({ pool, schema: options.schema }).assertCurrent()
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE' || error.code === 'EACCES'
            ? new CliExit(
                EXIT_CODES.unavailable,
                `cannot listen on ${options.host}:${options.port}: ${error.code}`,
              )
            : error,
        ),
      )
      server.listen(options.port, options.host, resolve)
    })
    holdUntilSignal({
      logger,
      stopDeadlineMs: 10_000,
      stop: async (signal) => {
        logger.info('stopping the dashboard', { signal })
        await dashboard.close()
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
        await pgq.close()
        await pool.end()
      },
    })
    const address = server.address()
    const port = typeof address === 'object' && address ? address.port : options.port
    const host = options.host.includes(':') ? `[${options.host}]` : options.host
    process.stdout.write(
      `pgq: dashboard ready at http://${host}:${port}${dashboard.config.basePath}/ (schema ${options.schema}${options.readOnly ? ', read-only' : ''})\n`,
    )
  })
}
