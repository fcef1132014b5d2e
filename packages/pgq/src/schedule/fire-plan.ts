import { type CronSpec, fireTimes, nextFireTime } from './cron.js'

/**
 * What a schedule does with ticks that passed while no scheduler ran:
 * - `skip` (default): drop them; the schedule goes on with its next tick;
 * - `once`: enqueue one catch-up job for all of them;
 * - `all`: enqueue one job per missed tick, the most recent `backfillLimit` of them.
 */
export type MissedPolicy = 'skip' | 'once' | 'all'

/** The missed-tick policies, for validation and help texts. */
export const MISSED_POLICIES: readonly MissedPolicy[] = Object.freeze(['skip', 'once', 'all'])

/**
 * A tick is on time while it is at most this late when a scheduler claims it (one minute); older
 * ticks are "missed" and handled by the schedule's {@link MissedPolicy}.
 */
export const ON_TIME_GRACE_MS = 60_000

/** Backfilled ticks considered at most, whatever the limit (a per-second schedule down for a day). */
const MAX_SCAN = 100_000

/** One job to enqueue for a schedule. */
export interface PlannedFire {
  /** The tick this job stands for: its `scheduled_for`. */
  readonly at: Date
  /** True for a missed tick enqueued late (policy `once` or `all`); stored as `meta.backfill`. */
  readonly backfill: boolean
}

/** The jobs one scheduler pass enqueues for a due schedule, and its next run time. */
export interface FirePlan {
  readonly fires: readonly PlannedFire[]
  /** Ticks dropped by the policy (at least this many; exact up to 100,000). */
  readonly skipped: number
  /** The first tick after `now`, or null when the expression never fires again. */
  readonly next: Date | null
}

/**
 * Plans a due schedule: `due` is its stored `next_run_at` (the oldest unfired tick) and `now` the
 * database time. Ticks within {@link ON_TIME_GRACE_MS} of `now` fire normally; older ones follow
 * the missed policy. The next run time is computed from the ticks, never from the local clock.
 *
 * ```ts
 * planFires(spec, new Date('2026-01-01T10:00:00Z'), new Date('2026-01-01T12:05:00Z'), 'once', 100)
 * // hourly spec: { fires: [{ at: 10:00, backfill: true }], skipped: 2, next: 13:00 }
 * ```
 */
export function planFires(
  spec: CronSpec,
  due: Date,
  now: Date,
  missed: MissedPolicy,
  backfillLimit: number,
): FirePlan {
  const onTimeFrom = now.getTime() - ON_TIME_GRACE_MS
  const late: Date[] = []
  const onTime: PlannedFire[] = []
  let lateCount = 0
  // `due` is the stored next run time: the first tick, even if the expression changed since.
  let ticks: Iterable<Date> = withFirst(due, fireTimes(spec, due))
  if (missed !== 'all' && due.getTime() < onTimeFrom) {
    // Only whether something was missed matters: jump to the first tick inside the grace window.
    lateCount = 1
    if (missed === 'once') late.push(due)
    ticks = fireTimes(spec, new Date(onTimeFrom - 1))
  }
  let next: Date | null = null
  for (const tick of ticks) {
    if (tick.getTime() > now.getTime()) {
      next = tick
      break
    }
    if (tick.getTime() >= onTimeFrom) {
      onTime.push({ at: tick, backfill: false })
    } else if (lateCount < MAX_SCAN) {
      lateCount++
      late.push(tick)
      if (late.length > backfillLimit) late.shift()
    } else {
      // a per-second schedule down for days: stop counting, go on from the grace window
      next = nextFireTime(spec, new Date(onTimeFrom - 1))
      for (; next !== null && next.getTime() <= now.getTime(); next = nextFireTime(spec, next)) {
        onTime.push({ at: next, backfill: false })
      }
      break
    }
  }
  let fires: PlannedFire[]
  if (missed === 'all') fires = late.map((at) => ({ at, backfill: true }))
  else if (missed === 'once' && late.length > 0) fires = [{ at: late[0]!, backfill: true }]
  else fires = []
  return Object.freeze({
    fires: Object.freeze([...fires, ...onTime]),
    skipped: lateCount - fires.length,
    next,
  })
}

function* withFirst(first: Date, rest: Iterable<Date>): Generator<Date> {
  yield first
  yield* rest
}
