// The job filter options shared by `pgq jobs`, `pgq retry` and `pgq cancel`.

import type { JobFilter, JobState } from '@pgq/core'
import type { Command } from 'commander'
import { listOption } from './format.js'

/** Parsed filter options. */
export interface FilterOptions {
  readonly state?: string[]
  readonly task?: string[]
  readonly queue?: string[]
  readonly workflow?: string
}

/** Adds `--state`, `--task`, `--queue` (each repeatable or comma-separated) and `--workflow`. */
export function withFilterOptions(command: Command, states: string): Command {
  return command
    .option('--state <states>', `only jobs in these states (${states}; comma-separated)`, listOption)
    .option('--task <names>', 'only jobs of these tasks (comma-separated)', listOption)
    .option('--queue <names>', 'only jobs in these queues (comma-separated)', listOption)
    .option('--workflow <id>', 'only the nodes of this workflow')
}

/** The library filter for the options (and `ids`, when given). */
export function filterFrom(options: FilterOptions, ids: readonly string[] = []): JobFilter {
  return {
    ...(ids.length > 0 ? { ids } : {}),
    ...(options.state ? { state: options.state as JobState[] } : {}),
    ...(options.task ? { task: options.task } : {}),
    ...(options.queue ? { queue: options.queue } : {}),
    ...(options.workflow ? { workflowId: options.workflow } : {}),
  }
}

/** True when no filter narrows the set (so a bulk command needs `--all`). */
export function isEmptyFilter(filter: JobFilter): boolean {
  return Object.keys(filter).length === 0
}
