// Every NOTIFY payload pgq sends, in one place: how it is written (by SQL, mirrored here for tests
// and tools) and how it is read. Two channels per schema (see db/schema-names.ts):
//
//   <schema>:jobs    `<queue>`             jobs of <queue> are due now (enqueue, retry, release, rescue)
//                    `<queue>@<epoch ms>`  the earliest new job of <queue> is due at that time
//                    `<queue>!`            the flow-control settings of <queue> changed (pause, limits)
//   <schema>:events  `finished:<id>,<id>…` these jobs reached a final state (≤ 500 ids per message)
//                    `cancel:<id>`         cancellation of this running job was requested
//                    `progress:<id>`       this running job's progress changed
//
// Writers: migrations/0004 (enqueue_many), migrations/0012 (queues trigger), sql/worker-queries.ts (finalize, release, rescue,
// progress), sql/admin-queries.ts (cancel, retry). Queue names never contain '@' or ',' (NAME_RULE),
// so the formats are unambiguous. A payload that matches no format is ignored (`undefined`).

/**
 * A wake-up on the jobs channel: jobs of `queue` are due now, or at `dueAt` (epoch ms), or the
 * queue's flow-control settings changed (`settingsChanged`: re-read them, then claim).
 */
export interface QueueWake {
  readonly queue: string
  /** Set when the earliest new job is due in the future. */
  readonly dueAt?: number
  /** Set when the queue's row of `<schema>.queues` was written (pause, resume, limits). */
  readonly settingsChanged?: true
}

/** A message on the events channel. */
export type JobEvent =
  | { readonly kind: 'finished'; readonly ids: readonly string[] }
  | { readonly kind: 'cancel'; readonly ids: readonly string[] }
  | { readonly kind: 'progress'; readonly ids: readonly string[] }

const WAKE = /^([A-Za-z0-9_.:-]{1,128})(?:@(\d{1,16})|(!))?$/
const EVENT = /^(finished|cancel|progress):(\d{1,19}(?:,\d{1,19})*)$/

/**
 * Reads a jobs-channel payload.
 *
 * ```ts
 * parseQueueWake('emails@1767225600000') // { queue: 'emails', dueAt: 1767225600000 }
 * ```
 */
export function parseQueueWake(payload: string): QueueWake | undefined {
  const match = WAKE.exec(payload)
  if (!match) return undefined
  if (match[3]) return { queue: match[1]!, settingsChanged: true }
  return match[2] === undefined ? { queue: match[1]! } : { queue: match[1]!, dueAt: Number(match[2]) }
}

/**
 * Writes a jobs-channel payload (the SQL writers produce the same text).
 *
 * ```ts
 * formatQueueWake({ queue: 'emails' }) // 'emails'
 * ```
 */
export function formatQueueWake(wake: QueueWake): string {
  if (wake.settingsChanged) return `${wake.queue}!`
  return wake.dueAt === undefined ? wake.queue : `${wake.queue}@${Math.floor(wake.dueAt)}`
}

/**
 * Reads an events-channel payload.
 *
 * ```ts
 * parseJobEvent('finished:41,42') // { kind: 'finished', ids: ['41', '42'] }
 * ```
 */
export function parseJobEvent(payload: string): JobEvent | undefined {
  const match = EVENT.exec(payload)
  if (!match) return undefined
  return { kind: match[1] as JobEvent['kind'], ids: match[2]!.split(',') }
}

/**
 * Writes an events-channel payload (the SQL writers produce the same text).
 *
 * ```ts
 * formatJobEvent({ kind: 'cancel', ids: ['42'] }) // 'cancel:42'
 * ```
 */
export function formatJobEvent(event: JobEvent): string {
  return `${event.kind}:${event.ids.join(',')}`
}
