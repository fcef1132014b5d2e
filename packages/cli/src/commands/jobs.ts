import type { Job, JobSummary } from '@pgq/core'
import { Jobs } from '@pgq/core/internal'
import type { Command } from 'commander'
import { type FilterOptions, filterFrom, withFilterOptions } from '../filter-options.js'
import { intOption, json, oneLine, plural, table, timestamp } from '../format.js'
import { type ConnectionOptions, openPool, output, withConnectionOptions } from '../options.js'

interface ListOptions extends ConnectionOptions, FilterOptions {
  readonly limit: number
  readonly before?: string
  readonly json?: boolean
}

interface ShowOptions extends ConnectionOptions {
  readonly json?: boolean
  readonly payload?: boolean
}

/** `pgq jobs [filters]` lists jobs, newest first; `pgq jobs show <id>` prints one job in full. */
export function registerJobs(program: Command): void {
  const jobs = withConnectionOptions(
    withFilterOptions(
      program
        .command('jobs')
        .description('list jobs, newest first (never prints payloads); `pgq jobs show <id>` for one job'),
      'blocked, available, running, succeeded, failed, cancelled, expired',
    )
      .option('--limit <n>', 'jobs per page', intOption(1, 1000), 20)
      .option('--before <id>', 'page: only jobs with a smaller id')
      .option('--json', 'machine-readable output'),
  ).action(async (options: ListOptions) => {
    const pool = openPool(options, 2)
    try {
      const list = await new Jobs({ pool, schema: options.schema }).list({
        ...filterFrom(options),
        limit: options.limit,
        ...(options.before ? { beforeId: options.before } : {}),
      })
      output(options.json, list, () => listText(list, options.limit))
    } finally {
      await pool.end()
    }
  })

  // --schema, --database-url and --json belong to `pgq jobs` and are accepted after `show <id>` too.
  jobs
    .command('show')
    .description('one job: state, attempts, timestamps, progress, result and error history')
    .argument('<id>', 'job id')
    .option('--payload', 'also print the payload (it may hold personal data)')
    .action(async (id: string, local: { payload?: boolean }, command: Command) => {
      const options: ShowOptions = { ...(command.parent!.opts() as ListOptions), ...local }
      const pool = openPool(options, 2)
      try {
        const job = await new Jobs({ pool, schema: options.schema }).get(id)
        if (!job) throw new Error(`job ${id} not found (never committed, or deleted after its retention)`)
        const shown = options.payload ? job : { ...job, payload: undefined }
        output(options.json, shown, () => showText(job, options.payload === true))
      } finally {
        await pool.end()
      }
    })
}

function listText(list: readonly JobSummary[], limit: number): string {
  if (list.length === 0) return 'no jobs match'
  const rows = list.map((j) => [
    j.id,
    j.task,
    j.queue,
    j.state,
    `${j.attempts}/${j.maxAttempts}`,
    j.createdAt,
    oneLine(j.lastError, 50),
  ])
  const body = table(['ID', 'TASK', 'QUEUE', 'STATE', 'ATTEMPTS', 'CREATED', 'LAST ERROR'], rows)
  const more = list.length === limit ? `; next page: --before ${list.at(-1)!.id}` : ''
  return `${body}\n(${plural(list.length, 'job')}${more})`
}

function showText(job: Job, withPayload: boolean): string {
  const lines: [string, string][] = [
    ['task', job.task],
    ['queue', job.queue],
    ['state', stateLine(job)],
    ['attempts', `${job.attempts} of ${job.maxAttempts} (interruptions: ${job.interruptions})`],
    ['priority', String(job.priority)],
    ['dedup key', job.dedupKey ?? '-'],
    ['created', timestamp(job.createdAt)],
    ['run at', timestamp(job.runAt)],
    ['started', timestamp(job.startedAt)],
    ['finished', timestamp(job.finishedAt)],
    ['delete after', timestamp(job.deleteAfter)],
  ]
  if (job.lockedBy) lines.push(['worker', `${job.lockedBy} (lease until ${timestamp(job.leaseExpiresAt)})`])
  lines.push(['progress', json(job.progress)], ['result', json(job.result, 2000)])
  if (withPayload) lines.push(['payload', json(job.payload, 4000)])
  const head = [`job ${job.id}`, ...lines.map(([k, v]) => `  ${k.padEnd(12)} ${v}`)]
  if (job.errors.length === 0) return [...head, '  errors       none'].join('\n')
  const errors = job.errors.flatMap((e) => {
    const stack = (e.stack ?? '').split('\n').slice(1, 4)
    return [
      `    #${e.attempt}  ${e.at}  ${oneLine(e.message, 200)}`,
      ...stack.map((s) => `         ${s.trim()}`),
    ]
  })
  return [...head, `  errors       ${job.errors.length}, oldest first:`, ...errors].join('\n')
}

function stateLine(job: Job): string {
  if (job.state === 'running' && job.cancelRequestedAt) return 'running (cancel requested)'
  return job.state
}
