// Every NOTIFY payload pgq sends, in one place: how it is written (by SQL, mirrored here for tests
// and tools) and how it is read. Two channels per schema (see db/schema-names.ts):
//
//   <schema>:jobs    `<queue>`             jobs of <queue> are due now (enqueue, retry, release, rescue)
//                    `<queue>@<epoch ms>`  the earliest new job of <queue> is due at that time
//                    `<queue>!`            the flow-control settings of <queue> changed (pause, limits)
//                    `<queue>*<ticket>`    jobs of <queue> are due now; <ticket> (the first new job's
//                                          id) picks which workers wake (worker/wake-selection.ts)
//                    `<queue>#<pos>/<hop>` a worker relays a wake-up to the worker at rank <pos> of the
//                                          queue (bounded wake-ups, worker/wake-selection.ts)
//   <schema>:events  `finished:<id>,<id>…` these jobs reached a final state (≤ 500 ids per message)
//                    `cancel:<id>`         cancellation of this running job was requested
//                    `progress:<id>`       this running job's progress changed
//
// Writers: migrations/0004 (enqueue_many), migrations/0012 (queues trigger), sql/worker-queries.ts (finalize, release, rescue,
// progress), sql/admin-queries.ts (cancel, retry), worker/notification-router.ts (relays). Queue
// names never contain '@', '!', '#', '*' or ',' (NAME_RULE),
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
  /** Set by enqueue: which workers the wake-up is for (without it, the sending backend's pid decides). */
  readonly ticket?: number
  /** Set on a wake-up one worker relays to another: the rank it is for, and how many relays came before. */
  readonly relay?: { readonly position: number; readonly hop: number }
}

/** A message on the events channel. */
export type JobEvent =
  | { readonly kind: 'finished'; readonly ids: readonly string[] }
  | { readonly kind: 'cancel'; readonly ids: readonly string[] }
  | { readonly kind: 'progress'; readonly ids: readonly string[] }

const WAKE = /^([A-Za-z0-9_.:-]{1,128})(?:@(\d{1,16})|(!)|#(\d{1,9})\/(\d{1,9})|\*(\d{1,19}))?$/
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
  if (match[6] !== undefined) return { queue: match[1]!, ticket: Number(match[6]) }
  if (match[4] !== undefined)
    return { queue: match[1]!, relay: { position: Number(match[4]), hop: Number(match[5]) } }
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
  if (wake.relay) return `${wake.queue}#${wake.relay.position}/${wake.relay.hop}`
  if (wake.ticket !== undefined) return `${wake.queue}*${wake.ticket}`
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
