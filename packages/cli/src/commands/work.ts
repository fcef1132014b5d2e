import { createPgq, type Pgq, PgqError, type Worker, type WorkerOptions } from '@pgq/core'
import { collectScheduleDefinitions } from '@pgq/core/internal'
import type { Command } from 'commander'
import { waitForDatabase } from '../connect.js'
import { intOption } from '../format.js'
import { logJobEvents } from '../job-log.js'
import { CliExit, EXIT_CODES, exitWhenClosed, holdUntilSignal } from '../lifetime.js'
import { createCliLogger, type LogOptions, withLogOptions } from '../log-format.js'
import { type ConnectionOptions, connectionStringOf, openPool, withConnectionOptions } from '../options.js'
import { type ProbeServer, startProbeServer } from '../probe-server.js'
import { parseRetention } from '../retention-option.js'
import { loadTaskModule } from '../task-module.js'

interface WorkOptions extends ConnectionOptions, LogOptions {
  readonly tasks: string
  readonly queues?: string
  readonly concurrency?: string
  readonly pollInterval?: string
  readonly listen: boolean
  readonly scheduler: boolean
  readonly preparedStatements: boolean
  readonly listenUrl?: string
  readonly lease?: string
  readonly rescueInterval?: string
  readonly expireInterval?: string
  readonly shutdownGrace?: string
  readonly retention?: string
  readonly pruneInterval?: string
  readonly maintenance: boolean
  readonly poolSize?: string
  readonly connectTimeout?: string
  readonly httpPort?: number
  readonly httpHost: string
}

/** Parses `emails,reports` (each with `concurrency`) or `emails=50,video=2`. */
export function parseQueues(
  spec: string,
  concurrency: number | undefined,
): string[] | Record<string, number> {
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
  if (parts.some((p) => p.includes('='))) {
    const queues: Record<string, number> = {}
    for (const part of parts) {
      const [name, n] = part.split('=')
      const value = n === undefined ? (concurrency ?? 10) : Number(n)
      if (!name || !Number.isInteger(value))
        throw new CliExit(EXIT_CODES.usage, `--queues: "${part}" is not queue or queue=concurrency`)
      queues[name] = value
    }
    return queues
  }
  return parts
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n)) throw new CliExit(EXIT_CODES.usage, `${flag} must be an integer, got "${value}"`)
  return n
}

/** The worker for the options, or a usage error (exit 64) naming the option the library refused. */
export function createWorkerOrExit(pgq: Pgq, options: WorkerOptions): Worker {
  try {
    return pgq.createWorker(options)
  } catch (error) {
    if (error instanceof PgqError) throw new CliExit(EXIT_CODES.usage, error.message, { cause: error })
    throw error
  }
}

/**
 * `pgq work --tasks <module>`: run a worker until SIGTERM/SIGINT (a second signal exits at once).
 * It lives through lost connections and outages; it exits only on a signal (0) or a fatal
 * condition with a documented code (docs/operations.md#exit-codes).
 */
export function registerWork(program: Command): void {
  withConnectionOptions(
    withLogOptions(program.command('work'))
      .description('run a worker for the tasks a module exports')
      .requiredOption(
        '--tasks <module>',
        'module exporting defineTask() results (JS, or TS under a TS loader)',
      )
      .option(
        '-Q, --queues <list>',
        'queues to work: "emails,reports" or "emails=50,video=2" (default: the tasks\' queues)',
      )
      .option('-c, --concurrency <n>', 'jobs at once per queue (default 10)')
      .option('--poll-interval <ms>', 'poll fallback interval (default 1000)')
      .option('--no-listen', 'poll only (for poolers that cannot LISTEN)')
      .option(
        '--listen-url <url>',
        'direct PostgreSQL URL for LISTEN when --database-url goes through PgBouncer (default: $PGQ_LISTEN_URL)',
      )
      .option('--no-scheduler', 'do not fire periodic schedules in this worker')
      .option('--no-prepared-statements', 'for PgBouncer < 1.21 in transaction mode')
      .option('--lease <ms>', 'job lease, renewed by the heartbeat (default 15000)')
      .option('--rescue-interval <ms>', 'how often expired leases are looked for (default 5000)')
      .option(
        '--expire-interval <ms>',
        'how often waiting jobs past their deadline are ended expired (default 1000)',
      )
      .option('--shutdown-grace <ms>', 'time running jobs get to finish on SIGTERM (default 10000)')
      .option(
        '--retention <list>',
        'how long finished jobs are kept: "succeeded=1h,failed=30d,cancelled=forever" (ms, or s/m/h/d; 0 deletes a job with its outcome; default succeeded=1d,failed=14d,cancelled=7d,expired=7d)',
      )
      .option('--prune-interval <ms>', 'how often finished jobs past retention are deleted (default 30000)')
      .option('--no-maintenance', 'run no rescuer, expirer or pruner in this worker (others must)')
      .option('--pool-size <n>', 'database connections (default 10)')
      .option(
        '--connect-timeout <ms>',
        'at start, wait this long for an unreachable database before exiting 69 (default 60000)',
      )
      .option(
        '--http-port <port>',
        'serve /metrics, /healthz and /readyz on this port (0: any free port; default: no HTTP)',
        intOption(0, 65_535),
      )
      .option('--http-host <host>', 'address the HTTP port binds to', '127.0.0.1'),
  ).action(async (options: WorkOptions) => {
    const logger = createCliLogger(options)
    // the command line first (exit 64), then the tasks module (exit 78), then the database
    const concurrency = int(options.concurrency, '--concurrency')
    const connectTimeout = int(options.connectTimeout, '--connect-timeout') ?? 60_000
    const poolSize = int(options.poolSize, '--pool-size') ?? 10
    connectionStringOf(options) // a missing or malformed URL is a usage error, found first
    const tuning: Partial<WorkerOptions> = {
      ...(options.queues ? { queues: parseQueues(options.queues, concurrency) } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(options.pollInterval ? { pollIntervalMs: int(options.pollInterval, '--poll-interval') } : {}),
      ...(options.lease ? { leaseMs: int(options.lease, '--lease') } : {}),
      ...(options.rescueInterval
        ? { rescueIntervalMs: int(options.rescueInterval, '--rescue-interval') }
        : {}),
      ...(options.expireInterval
        ? { expireIntervalMs: int(options.expireInterval, '--expire-interval') }
        : {}),
      ...(options.shutdownGrace ? { shutdownGraceMs: int(options.shutdownGrace, '--shutdown-grace') } : {}),
      ...(options.retention !== undefined ? { retention: parseRetention(options.retention) } : {}),
      ...(options.pruneInterval ? { pruneIntervalMs: int(options.pruneInterval, '--prune-interval') } : {}),
      ...(options.maintenance ? {} : { maintenance: false }),
    }
    const module = await loadTaskModule(options.tasks)
    const schedules = collectScheduleDefinitions(module.exports)
    const pool = openPool(options, poolSize)
    const listenUrl = options.listenUrl ?? process.env.PGQ_LISTEN_URL
    const pgq = createPgq({
      pool,
      schema: options.schema,
      ...(listenUrl ? { listenConnectionString: listenUrl } : {}),
    })
    const workerOptions: WorkerOptions = {
      tasks: module.tasks,
      ...tuning,
      listen: options.listen,
      scheduler: options.scheduler,
      ...(options.preparedStatements ? {} : { preparedStatements: false }), // default: detect a pooler
      // schedules the module declares in code (defineSchedule) are upserted when the worker starts
      ...(schedules.length > 0 ? { schedules } : {}),
      logger,
    }
    const worker = createWorkerOrExit(pgq, workerOptions)
    logJobEvents(worker, logger)
    let probes: ProbeServer | undefined
    holdUntilSignal({
      logger,
      // the grace for running jobs, plus time to write their outcomes and deregister
      stopDeadlineMs: worker.config.shutdownGraceMs + 15_000,
      stop: async (signal) => {
        logger.info('stopping: finishing running jobs', { signal, grace_ms: worker.config.shutdownGraceMs })
        await worker.stop()
        await probes?.close()
        await pool.end()
      },
    })
    if (options.httpPort !== undefined) {
      probes = await startProbeServer({ worker, pgq, host: options.httpHost, port: options.httpPort })
      process.stdout.write(`pgq: serving /metrics, /healthz, /readyz on ${probes.url}\n`)
    }
    await waitForDatabase(pool, connectTimeout, logger)
    // the handle's `closed` rejects when the worker stops itself on a fatal condition
    const { closed } = await worker.start()
    exitWhenClosed(closed)
    const queues = [...worker.config.queues].map(([q, n]) => `${q}=${n}`).join(',')
    process.stdout.write(
      `pgq: worker ${worker.id} ready (pid ${process.pid}, queues ${queues}, tasks ${module.tasks.map((t) => t.name).join(',')})\n`,
    )
  })
}
