// The actions: every change the dashboard makes goes through pgq's own API (pgq.jobs.retry/cancel/
// delete, pgq.queues.pause/resume, pgq.schedules.pause/resume/trigger). Each answers a checked POST (see http/csrf.ts) with a
// redirect back to the page, carrying a notice code that the page maps to a fixed message.
import { PgqValidationError } from '@pgq/core'
import { assertJobId, assertName } from '@pgq/core/internal'
import type { DashboardConfig } from './config.js'
import { bulkable, parseJobsFilter, toJobFilter } from './jobs-filter.js'

/** What an action did: a notice code and a number for its message. */
export interface ActionOutcome {
  readonly notice: string
  readonly n: number | string
}

const JOB_ACTION = /^\/actions\/jobs\/([^/]+)\/(retry|cancel|delete)$/
const QUEUE_ACTION = /^\/actions\/queues\/([^/]+)\/(redrive|pause|resume)$/
const SCHEDULE_ACTION = /^\/actions\/schedules\/([^/]+)\/(pause|resume|trigger)$/

/** True for paths this module handles (all POST-only). */
export function isActionPath(path: string): boolean {
  return (
    path === '/actions/jobs' || JOB_ACTION.test(path) || QUEUE_ACTION.test(path) || SCHEDULE_ACTION.test(path)
  )
}

/**
 * Runs the action of `path` with the form's fields; undefined when the path is no action. Bad
 * input throws PgqValidationError (shown as a 400 page).
 */
export async function runAction(
  config: DashboardConfig,
  path: string,
  form: URLSearchParams,
): Promise<ActionOutcome | undefined> {
  const { pgq } = config
  let match = JOB_ACTION.exec(path)
  if (match) {
    const id = assertJobId(decodeURIComponent(match[1]!), 'id')
    if (match[2] === 'retry') return { notice: 'retried', n: (await pgq.jobs.retry(id)).retried }
    if (match[2] === 'delete') return { notice: 'deleted', n: (await pgq.jobs.delete(id)).deleted }
    const { cancelled, cancelRequested } = await pgq.jobs.cancel(id)
    return cancelRequested > 0
      ? { notice: 'cancel-requested', n: cancelRequested }
      : { notice: 'cancelled', n: cancelled }
  }
  if (path === '/actions/jobs') {
    const filter = parseJobsFilter(form)
    if (!bulkable(filter)) {
      throw new PgqValidationError('filter', 'bulk actions take a state, queue or task filter only', filter)
    }
    const target = toJobFilter(filter)
    switch (form.get('action')) {
      case 'retry':
        return { notice: 'retried', n: (await pgq.jobs.retry(target)).retried }
      case 'cancel': {
        const { cancelled, cancelRequested } = await pgq.jobs.cancel(target)
        return { notice: 'cancelled', n: cancelled + cancelRequested }
      }
      case 'delete':
        return { notice: 'deleted', n: (await pgq.jobs.delete(target)).deleted }
      default:
        throw new PgqValidationError('action', 'must be retry, cancel or delete', form.get('action'))
    }
  }
  match = QUEUE_ACTION.exec(path)
  if (match) {
    const queue = assertName(decodeURIComponent(match[1]!), 'queue')
    if (match[2] === 'pause') await pgq.queues.pause(queue)
    else if (match[2] === 'resume') await pgq.queues.resume(queue)
    else return { notice: 'retried', n: (await pgq.jobs.retry({ queue, state: 'failed' })).retried }
    return { notice: match[2] === 'pause' ? 'queue-paused' : 'queue-resumed', n: 1 }
  }
  match = SCHEDULE_ACTION.exec(path)
  if (match) {
    const name = assertName(decodeURIComponent(match[1]!), 'schedule')
    if (match[2] === 'pause') await pgq.schedules.pause(name)
    else if (match[2] === 'resume') await pgq.schedules.resume(name)
    else return { notice: 'triggered', n: await pgq.schedules.trigger(name) }
    return { notice: match[2] === 'pause' ? 'paused' : 'resumed', n: 1 }
  }
  return undefined
}

const NOTICES: Record<string, (n: string) => string> = {
  retried: (n) => `Retried ${n} job(s).`,
  cancelled: (n) => `Cancelled ${n} job(s).`,
  'cancel-requested': (n) => `Asked the worker to stop ${n} running job(s).`,
  deleted: (n) => `Deleted ${n} job(s).`,
  paused: () => 'Schedule paused.',
  resumed: () => 'Schedule resumed.',
  triggered: (n) => `Enqueued job #${n}.`,
  'queue-paused': () => 'Queue paused: running jobs finish, nothing new starts.',
  'queue-resumed': () => 'Queue resumed.',
}

/** The fixed message of a notice code from the query string (null for unknown codes). */
export function noticeText(query: URLSearchParams): string | null {
  const make = NOTICES[query.get('notice') ?? '']
  const n = query.get('n') ?? ''
  return make && /^\d{1,19}$/.test(n) ? make(n) : null
}

/** Where to go after an action: the form's `return` when it is a dashboard page, else the overview. */
export function returnPath(basePath: string, value: string | null, outcome: ActionOutcome): string {
  const safe =
    value !== null &&
    (value === basePath || value.startsWith(`${basePath}/`)) &&
    value.startsWith('/') &&
    !value.startsWith('//') &&
    !value.includes('\\')
  const target = safe ? value : `${basePath}/`
  const url = new URL(target, 'http://dashboard.invalid')
  url.searchParams.set('notice', outcome.notice)
  url.searchParams.set('n', String(outcome.n))
  return `${url.pathname}${url.search}`
}
