import { Migrator } from '@pgq/core/internal'
import type { Command } from 'commander'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface MigrateOptions extends ConnectionOptions {
  readonly status?: boolean
  readonly dryRun?: boolean
  readonly json?: boolean
}

/** `pgq migrate [--status] [--dry-run]`: apply, list, or print pending migrations. */
export function registerMigrate(program: Command): void {
  withConnectionOptions(
    program
      .command('migrate')
      .description('apply pending migrations (safe to run from many processes at once)')
      .option('--status', 'list applied and pending migrations, change nothing')
      .option('--dry-run', 'print the SQL of pending migrations, change nothing')
      .option('--json', 'machine-readable output'),
  ).action(async (options: MigrateOptions) => {
    const pool = openPool(options, 2)
    try {
      const migrator = new Migrator({ pool, schema: options.schema })
      if (options.status) {
        const status = await migrator.status()
        output(options.json, status, () =>
          status
            .map(
              (s) =>
                `${String(s.version).padStart(4, '0')} ${s.name.padEnd(32)} ${s.appliedAt ? `applied ${s.appliedAt.toISOString()}` : 'pending'}`,
            )
            .join('\n'),
        )
      } else if (options.dryRun) {
        const pending = await migrator.pendingSql()
        output(options.json, pending, () =>
          pending.length === 0
            ? `-- schema "${options.schema}" is up to date`
            : pending.map((p) => `-- ${String(p.version).padStart(4, '0')} ${p.name}\n${p.sql}`).join('\n'),
        )
      } else {
        const result = await migrator.migrate()
        output(options.json, result, () =>
          result.applied.length === 0
            ? `schema "${result.schema}" is up to date (version ${result.version})`
            : `schema "${result.schema}": applied ${result.applied.map((a) => `${a.version} ${a.name}`).join(', ')} (now at version ${result.version})`,
        )
      }
    } finally {
      await pool.end()
    }
  })
}
