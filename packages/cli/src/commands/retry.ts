import { Jobs } from '@pgq/core/internal'
import type { Command } from 'commander'
import { type FilterOptions, filterFrom, isEmptyFilter, withFilterOptions } from '../filter-options.js'
import { plural } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface RetryCommandOptions extends ConnectionOptions, FilterOptions {
  readonly all?: boolean
  readonly toQueue?: string
  readonly json?: boolean
}

/** `pgq retry [ids…] [filters] [--all]`: run failed, cancelled or expired jobs again. */
export function registerRetry(program: Command): void {
  withConnectionOptions(
    withFilterOptions(
      program
        .command('retry')
        .description(
          'run failed, cancelled or expired jobs again (attempts reset, deadline cleared, error history kept)',
        )
        .argument('[ids...]', 'job ids'),
      'failed, cancelled, expired; default all three',
    )
      .option('--all', 'every failed, cancelled and expired job (required when no id or filter is given)')
      .option('--to-queue <queue>', 'move the retried jobs to this queue (e.g. out of a dead-letter queue)')
      .option('--json', 'machine-readable output'),
  ).action(async (ids: string[], options: RetryCommandOptions) => {
    const filter = filterFrom(options, ids)
    if (isEmptyFilter(filter) && !options.all) {
      throw new Error('give job ids, a filter (--state, --task, --queue), or --all')
    }
    const pool = openPool(options, 2)
    try {
      const jobs = new Jobs({ pool, schema: options.schema })
      const result = await jobs.retry(filter, options.toQueue ? { queue: options.toQueue } : {})
      output(options.json, result, () =>
        result.retried === 0
          ? 'retried no jobs (only failed, cancelled or expired jobs can be retried, and not while a live job holds their dedup key)'
          : `retried ${plural(result.retried, 'job')}`,
      )
    } finally {
      await pool.end()
    }
  })
}
