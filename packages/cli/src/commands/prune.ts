import { Pruner } from '@pgq/core/internal'
import type { Command } from 'commander'
import { intOption, plural } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface PruneOptions extends ConnectionOptions {
  readonly batchSize: number
  readonly json?: boolean
}

/** `pgq prune`: delete finished jobs past their retention now, without a worker. */
export function registerPrune(program: Command): void {
  withConnectionOptions(
    program
      .command('prune')
      .description(
        'delete finished jobs past their retention now, in batches that each commit (workers also do this)',
      )
      .option('--batch-size <n>', 'jobs deleted per statement', intOption(1, 100_000), 1_000)
      .option('--json', 'machine-readable output'),
  ).action(async (options: PruneOptions) => {
    const pool = openPool(options, 2)
    try {
      // pruneOnce() reports nothing to onError: its errors reject, and the command prints them
      const pruner = new Pruner({
        pool,
        schema: options.schema,
        batchSize: options.batchSize,
        maxBatchesPerRun: 1_000_000,
        onError: () => {},
      })
      const deleted = await pruner.pruneOnce()
      output(options.json, { deleted }, () => `deleted ${plural(deleted, 'finished job')} past retention`)
    } finally {
      await pool.end()
    }
  })
}
