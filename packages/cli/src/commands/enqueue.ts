import type { Command } from 'commander'
import { createPgq, type EnqueueOptions } from 'pgq'
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
  readonly dedupMode?: 'keep' | 'replace'
  readonly json?: boolean
}

/** `pgq enqueue <task> --payload <json>`: enqueue one job by task name (for operators and scripts). */
export function registerEnqueue(program: Command): void {
  withConnectionOptions(
    program
      .command('enqueue')
      .description('enqueue one job of a task by name')
      .argument('<task>', 'task name')
      .option('--payload <json>', 'the payload, as JSON', '{}')
      .option('--queue <queue>', "queue (default: 'default')")
      .option('--priority <n>', 'higher runs first', intOption(-32768, 32767))
      .option('--delay-ms <ms>', 'run no earlier than this many ms from now', intOption(0, 2 ** 53 - 1))
      .option('--run-at <iso>', 'run no earlier than this instant (ISO 8601)')
      .option('--max-attempts <n>', 'runs before the job fails for good', intOption(1, 1000))
      .option('--dedup-key <key>', 'while a job of this task with this key waits or runs, return it instead')
      .option('--dedup-mode <mode>', 'keep (default) or replace (update the waiting job)')
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
    }
    const pool = openPool(options, 2)
    try {
      const pgq = createPgq({ pool, schema: options.schema })
      const job = await pgq.enqueue(task, payload, jobOptions)
      output(options.json, job, () =>
        job.deduplicated
          ? `job ${job.id} of ${task} already waits or runs with dedup key ${JSON.stringify(options.dedupKey)}: not enqueued again`
          : `enqueued job ${job.id} (${task})`,
      )
    } finally {
      await pool.end()
    }
  })
}
