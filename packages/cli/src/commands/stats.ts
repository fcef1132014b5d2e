import { type JobStats, type QueueInfo, TaskRegistry, type UnknownTask } from '@pgq/core'
import { Jobs, Queues } from '@pgq/core/internal'
import type { Command } from 'commander'
import { duration, intOption, table, timestamp } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'
import { queuesText } from './queue.js'

interface StatsOptions extends ConnectionOptions {
  readonly window: number
  readonly json?: boolean
}

/**
 * `pgq stats`: per-queue counts by state (blocked: workflow nodes waiting on parents), lag, and throughput over the last minutes; then the
 * waiting jobs whose task no worker has registered (nothing can run them).
 */
export function registerStats(program: Command): void {
  withConnectionOptions(
    program
      .command('stats')
      .description('per-queue job counts by state, lag (oldest waiting job) and recent throughput')
      .option('--window <minutes>', 'throughput window in minutes', intOption(1, 10_080), 5)
      .option('--json', 'machine-readable output'),
  ).action(async (options: StatsOptions) => {
    const pool = openPool(options, 2)
    try {
      const stats = await new Jobs({ pool, schema: options.schema }).stats({ windowMinutes: options.window })
      const unknownTasks = await new TaskRegistry({ pool, schema: options.schema }).unknown()
      const flow = (await new Queues({ pool, schema: options.schema }).list()).filter(
        (q) =>
          q.paused ||
          q.concurrency !== null ||
          q.rate !== null ||
          q.keyConcurrency !== null ||
          q.keyRate !== null,
      )
      output(
        options.json,
        { ...stats, unknownTasks, flowControl: flow },
        () => statsText(stats, options.schema) + flowText(flow) + unknownTasksText(unknownTasks),
      )
    } finally {
      await pool.end()
    }
  })
}

function statsText(stats: JobStats, schema: string): string {
  const header = `schema "${schema}" at ${timestamp(stats.at)}; throughput over the last ${stats.windowMinutes} min`
  if (stats.queues.length === 0) return `${header}\nno jobs`
  const row = (name: string, q: Omit<JobStats['totals'], never>) => [
    name,
    q.waiting,
    q.scheduled,
    q.blocked,
    q.running,
    q.succeeded,
    q.failed,
    q.cancelled,
    q.expired,
    q.waiting > 0 ? duration(q.lagMs) : '-',
    q.throughputPerMinute,
    q.recent.failed,
  ]
  const rows = stats.queues.map((q) => row(q.queue, q))
  if (stats.queues.length > 1) rows.push(row('(all)', stats.totals))
  const headers = [
    'QUEUE',
    'WAITING',
    'SCHEDULED',
    'BLOCKED',
    'RUNNING',
    'SUCCEEDED',
    'FAILED',
    'CANCELLED',
    'EXPIRED',
    'LAG',
  ]
  return `${header}\n${table([...headers, 'DONE/MIN', 'FAILED (WINDOW)'], rows)}`
}

/** Queues with flow-control settings (paused, limited); nothing when there are none. */
function flowText(queues: readonly QueueInfo[]): string {
  return queues.length === 0 ? '' : `\n\nflow control:\n${queuesText(queues)}`
}

function unknownTasksText(unknown: readonly UnknownTask[]): string {
  if (unknown.length === 0) return ''
  const rows = unknown.map((u) => [u.task, u.queue, u.waiting, u.oldestCreatedAt])
  return (
    `\n\nWARNING: waiting jobs of tasks no worker has registered (nothing will run them until a worker with the task starts):\n` +
    table(['TASK', 'QUEUE', 'WAITING', 'OLDEST'], rows)
  )
}
