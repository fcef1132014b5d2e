#!/usr/bin/env node
// The `pgq` command: parse -> library call -> print. Each command lives in commands/.
import { Command, CommanderError } from 'commander'
import { registerCancel } from './commands/cancel.js'
import { registerDashboard } from './commands/dashboard.js'
import { registerDemo } from './commands/demo.js'
import { registerDev } from './commands/dev.js'
import { registerEnqueue } from './commands/enqueue.js'
import { registerHealth } from './commands/health.js'
import { registerJobs } from './commands/jobs.js'
import { registerMigrate } from './commands/migrate.js'
import { registerPrune } from './commands/prune.js'
import { registerQueue } from './commands/queue.js'
import { registerRetry } from './commands/retry.js'
import { registerSchedule } from './commands/schedule.js'
import { registerStats } from './commands/stats.js'
import { registerWork } from './commands/work.js'
import { registerWorkers } from './commands/workers.js'
import { EXIT_CODES, exitFor, exitWith, isConnectionError, stopping } from './lifetime.js'

// Anything thrown outside a command's own error handling is a bug (ours, or in a task module's
// detached code): one line and the stack, exit 70, so a supervisor restarts the process.
// During a graceful stop, a connection the stop itself cut (e.g. `pgq dev` stopping its database
// under a tasks module's own pool) is expected, not a bug.
const internal = (kind: string) => (error: unknown) => {
  if (stopping() && isConnectionError(error)) return
  const message = error instanceof Error ? error.message : String(error)
  const stack = error instanceof Error && error.stack ? `\n${error.stack}` : ''
  // every connection pgq opens has an 'error' listener: a lost connection that reaches here is a
  // pg.Pool or Client of the task module without one (docs/getting-started.md shows the line)
  const hint = isConnectionError(error)
    ? "; a database client without an 'error' listener lost its connection (in your task module? add pool.on('error', …))"
    : ''
  process.stderr.write(
    `pgq: internal error (${kind}): ${message}${hint} (exit ${EXIT_CODES.internal})${stack}\n`,
  )
  process.exit(EXIT_CODES.internal)
}
process.on('uncaughtException', internal('uncaught exception'))
process.on('unhandledRejection', internal('unhandled rejection'))

const program = new Command()
  .name('pgq')
  .description('Background jobs in your own PostgreSQL')
  .version('0.1.0')
  .showHelpAfterError()
  // usage errors throw instead of exiting 1, so they exit 64 below (subcommands inherit this)
  .exitOverride()

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
registerWorkers(program)
registerHealth(program)
registerSchedule(program)
registerQueue(program)
registerDashboard(program)

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    // commander printed its message already; --help and --version end with exit code 0
    process.exit(error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage)
  }
  const { code, line } = exitFor(error)
  if (code === EXIT_CODES.failed) {
    process.stderr.write(`pgq: ${line}\n`)
    process.exitCode = code
  } else {
    exitWith(code, line)
  }
})
