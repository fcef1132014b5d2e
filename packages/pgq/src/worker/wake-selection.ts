import type { QueueWake } from '../notify/messages.js'

/**
 * How many workers of a queue one wake-up asks to claim. The others stay asleep: with N idle
 * workers a job costs this many claim statements, not N (the thundering herd; docs/scaling.md).
 */
export const WAKE_FANOUT = 2

/** A worker's place among the live, listening workers of one queue (ranked by worker id). */
export interface WakeRank {
  /** 0-based rank of this worker. */
  readonly rank: number
  /** How many live, listening workers serve the queue (this one included). */
  readonly size: number
}

/** What one wake-up asks of this worker. */
export interface WakeTarget {
  /** Claim now. */
  readonly chosen: boolean
  /** Where to relay when this worker cannot take all there is; undefined when the relays went round. */
  readonly next?: { readonly position: number; readonly hop: number }
}

/**
 * @internal Decides whether a wake-up of the jobs channel is for this worker. Every listener gets
 * the same NOTIFY and decides alone, yet they agree: the first {@link WAKE_FANOUT} ranks after a
 * start are chosen — the start is the wake-up's ticket (enqueue sends the new job's id, so
 * successive jobs go round the workers) or else the sending backend's process id (the same for
 * every listener). A
 * chosen worker that finds no free slot, or claims a full batch (more may be waiting), relays the
 * wake-up to the rank {@link WAKE_FANOUT} places further on, so a burst reaches as many workers as it
 * needs, in steps, and a single job costs {@link WAKE_FANOUT} claims. Relays stop after one lap.
 * Without a rank (not known yet, or the worker does not take part) every wake-up is for this worker,
 * as are wake-ups of queues with no more workers than the fan-out.
 *
 * ```ts
 * selectWake({ queue: 'emails' }, 4711, { rank: 3, size: 10 }) // { chosen: (3 - 4711 % 10 + 10) % 10 < 2, next: … }
 * ```
 */
export function selectWake(wake: QueueWake, senderPid: number, place: WakeRank | undefined): WakeTarget {
  if (!place || place.size <= WAKE_FANOUT) return { chosen: true }
  const { rank, size } = place
  let hop: number
  if (wake.relay) {
    if (wake.relay.position % size !== rank) return { chosen: false }
    hop = wake.relay.hop
  } else {
    const start = (wake.ticket ?? Math.abs(senderPid)) % size
    if ((rank - start + size) % size >= WAKE_FANOUT) return { chosen: false }
    hop = 0
  }
  const laps = Math.ceil(size / WAKE_FANOUT)
  if (hop + 1 >= laps) return { chosen: true }
  return { chosen: true, next: { position: (rank + WAKE_FANOUT) % size, hop: hop + 1 } }
}
