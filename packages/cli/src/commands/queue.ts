import type { QueueInfo, QueueLimitsInput } from '@pgq/core'
import { Queues } from '@pgq/core/internal'
import type { Command } from 'commander'
import { table } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface QueueOptions extends ConnectionOptions {
  readonly json?: boolean
}

interface SetOptions extends QueueOptions {
  readonly concurrency?: string
  readonly rate?: string
  readonly keyConcurrency?: string
  readonly ordered?: boolean
  readonly keyRate?: string
}

/** Runs `fn` with a `Queues` on a short-lived pool. */
async function withQueues<T>(options: ConnectionOptions, fn: (queues: Queues) => Promise<T>): Promise<T> {
  const pool = openPool(options, 2)
  try {
    return await fn(new Queues({ pool, schema: options.schema }))
  } finally {
    await pool.end()
  }
}

/** `none` removes a limit; anything else must look like an integer (the API checks its range). */
function limitValue(value: string, flag: string): number | null {
  if (value === 'none') return null
  if (!/^-?\d+$/.test(value)) throw new Error(`${flag} must be an integer or "none", got "${value}"`)
  return Number(value)
}

/** One line per queue: its settings and load. */
export function queuesText(queues: readonly QueueInfo[]): string {
  if (queues.length === 0) return 'no queues'
  const rows = queues.map((q) => [
    q.queue,
    q.paused ? 'paused' : 'active',
    q.concurrency ?? '-',
    q.rate ?? '-',
    q.keyConcurrency === null ? '-' : `${q.keyConcurrency}${q.ordered ? ' ordered' : ''}`,
    q.keyRate ?? '-',
    q.running,
    q.waiting,
  ])
  return table(['QUEUE', 'STATE', 'CONCURRENCY', 'RATE', 'PER KEY', 'KEY RATE', 'RUNNING', 'WAITING'], rows)
}

/** `pgq queue pause|resume|set|list`: flow control (docs/flow-control.md). */
export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('flow control: pause, resume and limit queues')

  for (const [verb, description] of [
    ['pause', 'stop starting jobs of the queue (running jobs finish)'],
    ['resume', 'start jobs of the queue again (workers are woken at once)'],
  ] as const) {
    withConnectionOptions(
      queue.command(`${verb} <name>`).description(description).option('--json', 'machine-readable output'),
    ).action(async (name: string, options: QueueOptions) => {
      await withQueues(options, (q) => (verb === 'pause' ? q.pause(name) : q.resume(name)))
      output(options.json, { queue: name, paused: verb === 'pause' }, () => `${verb}d ${name}`)
    })
  }

  withConnectionOptions(
    queue
      .command('set <name>')
      .description('set the queue\'s limits ("none" removes one); limits left out are kept')
      .option('--concurrency <n>', 'most jobs of the queue running at once across all workers')
      .option('--rate <n/interval>', 'most jobs started per interval across all workers: 10/m, 100/s, 5/10s')
      .option('--key-concurrency <n>', 'most jobs running at once per concurrency key (e.g. per customer)')
      .option('--ordered', "with --key-concurrency 1: each key's jobs start in enqueue order")
      .option('--no-ordered', 'keys are no longer ordered')
      .option('--key-rate <n/interval>', 'most jobs of one concurrency key started per interval: 10/m, 1/s')
      .option('--json', 'machine-readable output'),
  ).action(async (name: string, options: SetOptions) => {
    const limits: { -readonly [K in keyof QueueLimitsInput]: QueueLimitsInput[K] } = {}
    if (options.concurrency !== undefined)
      limits.concurrency = limitValue(options.concurrency, '--concurrency')
    if (options.rate !== undefined) limits.rate = options.rate === 'none' ? null : options.rate
    if (options.keyConcurrency !== undefined)
      limits.keyConcurrency = limitValue(options.keyConcurrency, '--key-concurrency')
    if (options.ordered !== undefined) limits.ordered = options.ordered
    if (options.keyRate !== undefined) limits.keyRate = options.keyRate === 'none' ? null : options.keyRate
    const info = await withQueues(options, (q) => q.set(name, limits))
    output(options.json, info, () => queuesText([info]))
  })

  withConnectionOptions(
    queue
      .command('list')
      .description('queues with their limits, running and waiting jobs')
      .option('--json', 'machine-readable output'),
  ).action(async (options: QueueOptions) => {
    const list = await withQueues(options, (q) => q.list())
    output(options.json, list, () => queuesText(list))
  })
}
