import { type WorkerInfo, WorkerList } from '@pgq/core'
import type { Command } from 'commander'
import { durationOption, table } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface WorkersOptions extends ConnectionOptions {
  readonly goneWithin: number
  readonly json?: boolean
}

/**
 * `pgq workers`: Celery's `inspect ping` — the live workers from their heartbeats (host, pid,
 * queues, concurrency, started, last heartbeat, running jobs), then the recently gone ones.
 */
export function registerWorkers(program: Command): void {
  withConnectionOptions(
    program
      .command('workers')
      .description('live workers (from their heartbeats) and recently stopped or lost ones')
      .option(
        '--gone-within <duration>',
        'also list workers that stopped or were lost this recently (e.g. 10m, 1h; rows are kept 24h)',
        durationOption(0, 7 * 86_400_000),
        3_600_000,
      )
      .option('--json', 'machine-readable output'),
  ).action(async (options: WorkersOptions) => {
    const pool = openPool(options, 2)
    try {
      const workers = await new WorkerList({ pool, schema: options.schema }).list({
        goneWithinMs: options.goneWithin,
      })
      output(options.json, { workers }, () => workersText(workers))
    } finally {
      await pool.end()
    }
  })
}

function workersText(workers: readonly WorkerInfo[]): string {
  const alive = workers.filter((w) => w.status === 'alive')
  const gone = workers.filter((w) => w.status !== 'alive')
  const rows = (list: readonly WorkerInfo[]) =>
    list.map((w) => [
      w.hostname,
      w.pid,
      w.queues.join(','),
      w.concurrency,
      w.runningJobs,
      w.startedAt,
      w.heartbeatAt,
      w.status,
      w.stoppedAt,
      w.id,
    ])
  const headers = ['HOST', 'PID', 'QUEUES', 'CONCURRENCY', 'RUNNING', 'STARTED', 'HEARTBEAT', 'STATUS']
  const lines = [
    alive.length === 0
      ? 'no live workers'
      : `${alive.length} live worker${alive.length === 1 ? '' : 's'}:\n${table([...headers, 'GONE AT', 'ID'], rows(alive))}`,
  ]
  if (gone.length > 0) lines.push(`recently gone:\n${table([...headers, 'GONE AT', 'ID'], rows(gone))}`)
  return lines.join('\n\n')
}
