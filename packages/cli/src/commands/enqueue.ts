import {
  createPgq,
  type DedupMode,
  type EnqueuedJob,
  type EnqueueOptions,
  PgqUnknownTaskError,
  TaskRegistry,
} from '@pgq/core'
import type { Command } from 'commander'
import { intOption } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface EnqueueCommandOptions extends ConnectionOptions {
  readonly payload: string
  readonly queue?: string
  readonly priority?: number
  readonly delayMs?: number
  readonly runAt?: string
  readonly maxAttempts?: number
  readonly dedupKey?: string
  readonly dedupMode?: DedupMode
  readonly dedupWindowMs?: number
  readonly force?: boolean
  readonly json?: boolean
}

/**
 * `pgq enqueue <task> --payload <json>`: enqueue one job by task name (for operators and scripts).
 * Options left out take the registered task's defaults; a task no worker registered is refused
 * unless `--force`.
 */
export function registerEnqueue(program: Command): void {
  withConnectionOptions(
    program
      .command('enqueue')
      .description('enqueue one job of a task by name')
      .argument('<task>', 'task name')
      .option('--payload <json>', 'the payload, as JSON', '{}')
      .option('--queue <queue>', "queue (default: the registered task's, else 'default')")
      .option('--priority <n>', 'higher runs first', intOption(-32768, 32767))
      .option('--delay-ms <ms>', 'run no earlier than this many ms from now', intOption(0, 2 ** 53 - 1))
      .option('--run-at <iso>', 'run no earlier than this instant (ISO 8601)')
      .option(
        '--max-attempts <n>',
        "runs before the job fails for good (default: the task's)",
        intOption(1, 1000),
      )
      .option('--dedup-key <key>', 'while a job of this task with this key waits or runs, return it instead')
      .option('--dedup-mode <mode>', 'keep (default), replace, debounce or throttle (see docs/enqueue.md)')
      .option('--dedup-window-ms <ms>', 'the window of debounce and throttle', intOption(1, 2 ** 31 - 1))
      .option('--force', 'enqueue even if no worker has registered this task (nothing may run it)')
      .option('--json', 'machine-readable output'),
  ).action(async (task: string, options: EnqueueCommandOptions) => {
    let payload: unknown
    try {
      payload = JSON.parse(options.payload)
    } catch (error) {
      throw new Error(`--payload: not valid JSON (${(error as Error).message})`)
    }
    const runAt = options.runAt === undefined ? undefined : new Date(options.runAt)
    if (runAt && Number.isNaN(runAt.getTime())) throw new Error(`--run-at: not a date: ${options.runAt}`)
    const jobOptions: EnqueueOptions = {
      ...(options.queue !== undefined && { queue: options.queue }),
      ...(options.priority !== undefined && { priority: options.priority }),
      ...(options.delayMs !== undefined && { delayMs: options.delayMs }),
      ...(runAt !== undefined && { runAt }),
      ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
      ...(options.dedupKey !== undefined && { dedupKey: options.dedupKey }),
      ...(options.dedupMode !== undefined && { dedupMode: options.dedupMode }),
      ...(options.dedupWindowMs !== undefined && { dedupWindowMs: options.dedupWindowMs }),
    }
    const pool = openPool(options, 2)
    try {
      if (!options.force) {
        try {
          await new TaskRegistry({ pool, schema: options.schema }).require(task)
        } catch (error) {
          if (error instanceof PgqUnknownTaskError) error.message += '. Pass --force to enqueue it anyway'
          throw error
        }
      }
      const pgq = createPgq({ pool, schema: options.schema })
      const job = await pgq.enqueue(task, payload, jobOptions)
      output(options.json, job, () => describe(job, task, options.dedupKey))
    } finally {
      await pool.end()
    }
  })
}

function describe(job: EnqueuedJob, task: string, dedupKey: string | undefined): string {
  const key = JSON.stringify(dedupKey)
  switch (job.outcome) {
    case 'created':
      return `enqueued job ${job.id} (${task})`
    case 'deduplicated':
      return `job ${job.id} of ${task} already waits or runs with dedup key ${key}: not enqueued again`
    case 'replaced':
      return `job ${job.id} of ${task} (dedup key ${key}) was waiting: it now has the new payload`
    case 'queued_after':
      return `job ${job.id} of ${task} (dedup key ${key}) is running: the new payload runs after it, as a new job`
    case 'throttled':
      return `throttled: job ${job.id} of ${task} was enqueued with dedup key ${key} within the window; nothing enqueued`
  }
}
