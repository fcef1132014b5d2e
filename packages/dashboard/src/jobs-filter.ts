// The jobs page's filter, read from a query string (GET) or a form (bulk actions): validated with
// pgq's own rules, so a bad value is a PgqValidationError naming the field, never SQL.
import { type JobFilter, type JobState, PgqValidationError } from '@pgq/core'
import { assertJobId, assertName, JOB_STATES } from '@pgq/core/internal'
import type { JobSearch } from './sql/job-search-queries.js'

/** The filter fields as the page's form names them. */
export interface JobsFilter {
  readonly state: JobState | null
  readonly queue: string | null
  readonly task: string | null
  /** `YYYY-MM-DDTHH:MM` in UTC, as a datetime-local input sends it. */
  readonly from: string | null
  readonly to: string | null
  readonly q: string | null
  readonly before: string | null
}

function field(params: URLSearchParams, name: string): string | null {
  const value = params.get(name)?.trim()
  return value ? value : null
}

function time(value: string | null, path: string): Date | null {
  if (value === null) return null
  const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`)
  if (Number.isNaN(date.getTime()))
    throw new PgqValidationError(path, 'must be a date and time such as 2026-12-01T08:00', value)
  return date
}

/** Reads and validates the filter (throws PgqValidationError). */
export function parseJobsFilter(params: URLSearchParams): JobsFilter {
  const state = field(params, 'state')
  if (state !== null && !JOB_STATES.includes(state as JobState)) {
    throw new PgqValidationError('state', `must be one of ${JOB_STATES.join(', ')}`, state)
  }
  const queue = field(params, 'queue')
  const task = field(params, 'task')
  const before = field(params, 'before')
  const q = field(params, 'q')
  if (q !== null && q.length > 200) throw new PgqValidationError('q', 'must be at most 200 characters', q)
  const filter: JobsFilter = Object.freeze({
    state: state as JobState | null,
    queue: queue === null ? null : assertName(queue, 'queue'),
    task: task === null ? null : assertName(task, 'task'),
    from: field(params, 'from'),
    to: field(params, 'to'),
    q,
    before: before === null ? null : assertJobId(before, 'before'),
  })
  time(filter.from, 'from')
  time(filter.to, 'to')
  return filter
}

/** The search statement's input for one page. */
export function toSearch(filter: JobsFilter, limit: number): JobSearch {
  return {
    states: filter.state ? [filter.state] : [],
    queues: filter.queue ? [filter.queue] : [],
    tasks: filter.task ? [filter.task] : [],
    createdFrom: time(filter.from, 'from'),
    createdTo: time(filter.to, 'to'),
    text: filter.q,
    before: filter.before,
    limit,
  }
}

/** True when pgq's bulk operations can express the filter (they know state, queue and task only). */
export function bulkable(filter: JobsFilter): boolean {
  return filter.q === null && filter.from === null && filter.to === null
}

/** The filter as pgq.jobs.retry/cancel/delete take it. */
export function toJobFilter(filter: JobsFilter): JobFilter {
  return {
    ...(filter.state ? { state: filter.state } : {}),
    ...(filter.queue ? { queue: filter.queue } : {}),
    ...(filter.task ? { task: filter.task } : {}),
  }
}

/** The filter as query parameters (the cursor left out). */
export function filterQuery(filter: JobsFilter): Record<string, string | null> {
  return {
    state: filter.state,
    queue: filter.queue,
    task: filter.task,
    from: filter.from,
    to: filter.to,
    q: filter.q,
  }
}
