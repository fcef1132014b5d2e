import { assertName } from '../db/identifiers.js'
import { PgqValidationError } from '../errors.js'
import { assertOptions, optionKeys } from '../util/validate.js'
import { JOB_STATES, type JobState } from './job-record.js'

/**
 * A job id: the decimal string pgq returns, or a number/bigint.
 *
 * ```ts
 * const id: JobId = (await pgq.enqueue(task, payload)).id
 * ```
 */
export type JobId = string | number | bigint

/**
 * Which jobs an admin operation (list, cancel, retry, delete) applies to. Every field narrows the
 * set; fields given as arrays match any of their values. `{}` matches every job the operation can
 * act on.
 *
 * ```ts
 * await pgq.jobs.retry({ task: 'send_email', state: 'failed' })
 * await pgq.jobs.cancel({ queue: ['reports', 'exports'] })
 * ```
 */
export interface JobFilter {
  readonly ids?: readonly JobId[]
  readonly state?: JobState | readonly JobState[]
  readonly task?: string | readonly string[]
  readonly queue?: string | readonly string[]
  readonly dedupKey?: string
  /** Only the nodes of this workflow (docs/workflows.md). */
  readonly workflowId?: JobId
  /** Only jobs that finished before this instant. */
  readonly finishedBefore?: Date
}

/** @internal A validated filter: `null` means "any". */
export interface ResolvedFilter {
  readonly ids: readonly string[] | null
  readonly states: readonly JobState[] | null
  readonly tasks: readonly string[] | null
  readonly queues: readonly string[] | null
  readonly dedupKey: string | null
  readonly workflowId: string | null
  readonly finishedBefore: Date | null
}

const FILTER_KEYS = optionKeys<JobFilter>({
  ids: true,
  state: true,
  task: true,
  queue: true,
  dedupKey: true,
  workflowId: true,
  finishedBefore: true,
})
const ID_RULE = /^[1-9][0-9]{0,18}$/

/**
 * Validates a job id and returns it as a decimal string; throws {@link PgqValidationError} naming it.
 *
 * ```ts
 * assertJobId(42) // '42'
 * assertJobId('abc') // throws: id: must be a positive integer job id
 * ```
 */
export function assertJobId(value: unknown, path = 'id'): string {
  const text = typeof value === 'number' || typeof value === 'bigint' ? String(value) : value
  if (typeof text !== 'string' || !ID_RULE.test(text) || BigInt(text) > 9223372036854775807n) {
    throw new PgqValidationError(path, 'must be a positive integer job id (e.g. "42")', value)
  }
  return text
}

function list<T>(
  value: T | readonly T[] | undefined,
  path: string,
  check: (v: unknown, p: string) => T,
): T[] | null {
  if (value === undefined) return null
  const values = (Array.isArray(value) ? value : [value]) as unknown[]
  if (values.length === 0) throw new PgqValidationError(path, 'must not be an empty list', value)
  return values.map((v, index) => check(v, Array.isArray(value) ? `${path}[${index}]` : path))
}

function assertState(value: unknown, path: string): JobState {
  if (!JOB_STATES.includes(value as JobState)) {
    throw new PgqValidationError(path, `must be one of ${JOB_STATES.join(', ')}`, value)
  }
  return value as JobState
}

/** @internal Validates a {@link JobFilter}; `extraKeys` are allowed (and ignored) on top of its fields. */
export function resolveFilter(
  filter: JobFilter,
  path = 'filter',
  extraKeys: readonly string[] = [],
): ResolvedFilter {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new PgqValidationError(path, 'must be an object such as { state: "failed" }', filter)
  }
  const known = extraKeys.length === 0 ? FILTER_KEYS : new Set([...FILTER_KEYS, ...extraKeys])
  assertOptions(filter, known, `${path}.`, 'filter')
  if (filter.ids !== undefined && !Array.isArray(filter.ids)) {
    throw new PgqValidationError(`${path}.ids`, 'must be an array of job ids', filter.ids)
  }
  const { dedupKey, finishedBefore } = filter
  if (dedupKey !== undefined && (typeof dedupKey !== 'string' || dedupKey.length === 0)) {
    throw new PgqValidationError(`${path}.dedupKey`, 'must be a non-empty string', dedupKey)
  }
  if (
    finishedBefore !== undefined &&
    (!(finishedBefore instanceof Date) || Number.isNaN(finishedBefore.getTime()))
  ) {
    throw new PgqValidationError(`${path}.finishedBefore`, 'must be a valid Date', finishedBefore)
  }
  return Object.freeze({
    ids: list(filter.ids, `${path}.ids`, assertJobId),
    states: list(filter.state, `${path}.state`, assertState),
    tasks: list(filter.task, `${path}.task`, assertName),
    queues: list(filter.queue, `${path}.queue`, assertName),
    dedupKey: dedupKey ?? null,
    workflowId: filter.workflowId === undefined ? null : assertJobId(filter.workflowId, `${path}.workflowId`),
    finishedBefore: finishedBefore ?? null,
  })
}

/** @internal A filter that matches one job. */
export function idFilter(id: JobId): ResolvedFilter {
  return resolveFilter({ ids: [id] }, 'id')
}

/** @internal Restricts `states` to `allowed`, naming the operation when a state is not allowed. */
export function restrictStates(
  filter: ResolvedFilter,
  allowed: readonly JobState[],
  operation: string,
): ResolvedFilter {
  for (const state of filter.states ?? []) {
    if (!allowed.includes(state)) {
      throw new PgqValidationError(
        'filter.state',
        `${operation} applies to ${allowed.join(', ')} jobs only, not ${state}`,
        state,
      )
    }
  }
  return Object.freeze({ ...filter, states: filter.states ?? allowed })
}
