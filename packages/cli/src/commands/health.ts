import { WorkerList } from '@pgq/core'
import { Migrator, queueLags } from '@pgq/core/internal'
import type { Command } from 'commander'
import { duration, durationOption, listOption } from '../format.js'
import { isConnectionError } from '../lifetime.js'
import { type ConnectionOptions, openPool, withConnectionOptions } from '../options.js'

interface HealthOptions extends ConnectionOptions {
  readonly queue?: string[]
  readonly maxLag?: number
  readonly timeout: number
  readonly json?: boolean
}

/** One check of `pgq health`: `skipped` when an earlier failure makes it meaningless. */
export interface HealthCheck {
  readonly check: string
  readonly status: 'ok' | 'failed' | 'skipped'
  readonly detail: string
}

/**
 * `pgq health`: exit 0 when healthy, 1 when any check fails, printing one line per failed check:
 * the database answers, the schema is at this pgq's version, each `--queue` has a live worker,
 * and no queue's lag passes `--max-lag`. For container probes and scripts.
 */
export function registerHealth(program: Command): void {
  withConnectionOptions(
    program
      .command('health')
      .description('exit 0 when healthy, 1 when not: database, schema, live workers per queue, lag')
      .option(
        '--queue <names>',
        'queues that must have a live worker (repeatable or comma-separated)',
        listOption,
      )
      .option(
        '--max-lag <duration>',
        'fail when a queue (the --queue ones, else any) has a due job older than this (e.g. 60s)',
        durationOption(1, 30 * 86_400_000),
      )
      .option(
        '--timeout <duration>',
        'give up on the database after this long',
        durationOption(100, 600_000),
        5_000,
      )
      .option('--json', 'machine-readable output'),
  ).action(async (options: HealthOptions) => {
    const pool = openPool(options, 2, {
      connectionTimeoutMillis: options.timeout,
      query_timeout: options.timeout,
    })
    try {
      const checks = await runChecks(pool, options)
      const healthy = checks.every((c) => c.status !== 'failed')
      if (options.json) process.stdout.write(`${JSON.stringify({ healthy, checks }, null, 2)}\n`)
      else if (healthy) process.stdout.write(`healthy: ${checks.map((c) => c.detail).join('; ')}\n`)
      else
        for (const c of checks.filter((c) => c.status === 'failed'))
          process.stdout.write(`unhealthy: ${c.check}: ${c.detail}\n`)
      process.exitCode = healthy ? 0 : 1
    } finally {
      await pool.end().catch(() => {})
    }
  })
}

type Pool = ReturnType<typeof openPool>

async function runChecks(pool: Pool, options: HealthOptions): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = []
  const queues = options.queue ?? []
  const skipRest = (why: string) => {
    for (const q of queues) checks.push({ check: `workers:${q}`, status: 'skipped', detail: why })
    if (options.maxLag !== undefined) checks.push({ check: 'lag', status: 'skipped', detail: why })
    return checks
  }
  try {
    await pool.query('SELECT 1')
    checks.push({ check: 'database', status: 'ok', detail: 'database reachable' })
  } catch (error) {
    const why = isConnectionError(error) ? 'unreachable' : 'refused the connection'
    checks.push({ check: 'database', status: 'failed', detail: `${why}: ${message(error)}` })
    checks.push({ check: 'schema', status: 'skipped', detail: 'no database' })
    return skipRest('no database')
  }
  try {
    await new Migrator({ pool, schema: options.schema }).assertCurrent()
    checks.push({ check: 'schema', status: 'ok', detail: `schema "${options.schema}" current` })
  } catch (error) {
    checks.push({ check: 'schema', status: 'failed', detail: message(error) })
    return skipRest('schema not current')
  }
  if (queues.length > 0) {
    const alive = await new WorkerList({ pool, schema: options.schema }).alive()
    for (const queue of queues) {
      const serving = alive.filter((w) => w.queues.includes(queue)).length
      checks.push(
        serving > 0
          ? { check: `workers:${queue}`, status: 'ok', detail: `${serving} live worker(s) serve "${queue}"` }
          : { check: `workers:${queue}`, status: 'failed', detail: `no live worker serves queue "${queue}"` },
      )
    }
  }
  if (options.maxLag !== undefined) {
    const max = options.maxLag
    const lags = await queueLags(pool, options.schema)
    const watched = queues.length > 0 ? queues : [...lags.keys()]
    const late = watched.filter((q) => (lags.get(q) ?? 0) > max)
    checks.push(
      late.length === 0
        ? { check: 'lag', status: 'ok', detail: `lag under ${duration(max)}` }
        : {
            check: 'lag',
            status: 'failed',
            detail: late
              .map((q) => `queue "${q}" lags ${duration(lags.get(q)!)} (max ${duration(max)})`)
              .join(', '),
          },
    )
  }
  return checks
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
