import { Jobs } from '@pgq/core/internal'
import type { Command } from 'commander'
import { type FilterOptions, filterFrom, isEmptyFilter, withFilterOptions } from '../filter-options.js'
import { plural } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface CancelOptions extends ConnectionOptions, FilterOptions {
  readonly all?: boolean
  readonly json?: boolean
}

/** `pgq cancel [ids…] [filters] [--all]`: cancel waiting jobs, ask running ones to stop. */
export function registerCancel(program: Command): void {
  withConnectionOptions(
    withFilterOptions(
      program
        .command('cancel')
        .description('cancel waiting jobs at once; ask running jobs to stop (their signal aborts)')
        .argument('[ids...]', 'job ids'),
      'available, running; default both',
    )
      .option('--all', 'every waiting and running job (required when no id or filter is given)')
      .option('--json', 'machine-readable output'),
  ).action(async (ids: string[], options: CancelOptions) => {
    const filter = filterFrom(options, ids)
    if (isEmptyFilter(filter) && !options.all) {
      throw new Error('give job ids, a filter (--state, --task, --queue), or --all')
    }
    const pool = openPool(options, 2)
    try {
      const result = await new Jobs({ pool, schema: options.schema }).cancel(filter)
      output(options.json, result, () => {
        if (result.cancelled + result.cancelRequested === 0) {
          return 'cancelled no jobs (only waiting or running jobs can be cancelled)'
        }
        return `cancelled ${plural(result.cancelled, 'waiting job')}; asked ${plural(result.cancelRequested, 'running job')} to stop`
      })
    } finally {
      await pool.end()
    }
  })
}
