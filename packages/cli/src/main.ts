#!/usr/bin/env node
// The `pgq` command: parse -> library call -> print. Each command lives in commands/.
import { Command } from 'commander'
import { registerCancel } from './commands/cancel.js'
import { registerDemo } from './commands/demo.js'
import { registerDev } from './commands/dev.js'
import { registerEnqueue } from './commands/enqueue.js'
import { registerJobs } from './commands/jobs.js'
import { registerMigrate } from './commands/migrate.js'
import { registerPrune } from './commands/prune.js'
import { registerRetry } from './commands/retry.js'
import { registerSchedule } from './commands/schedule.js'
import { registerStats } from './commands/stats.js'
import { registerWork } from './commands/work.js'

const program = new Command()
  .name('pgq')
  .description('Background jobs in your own PostgreSQL')
  .version('0.1.0')
  .showHelpAfterError()

registerMigrate(program)
registerDemo(program)
registerDev(program)
registerEnqueue(program)
registerJobs(program)
registerStats(program)
registerRetry(program)
registerCancel(program)
registerPrune(program)
registerWork(program)
registerSchedule(program)

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`pgq: ${message}\n`)
  process.exitCode = 1
})
