import { PgqValidationError } from '../errors.js'

// Wall-clock arithmetic for IANA time zones, on top of Intl only. A "wall" time is the local
// date-time of a zone written as if it were UTC milliseconds (so 2026-03-08 02:30 local is
// Date.UTC(2026, 2, 8, 2, 30)); an "instant" is a real epoch millisecond.

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    })
    formatters.set(timeZone, format)
  }
  return format
}

/**
 * Validates an IANA time zone name (`Europe/Paris`, `America/New_York`, `UTC`) and returns it.
 * Throws {@link PgqValidationError} naming the value.
 *
 * ```ts
 * assertTimeZone('Australia/Melbourne', 'schedule.timezone') // 'Australia/Melbourne'
 * assertTimeZone('Mars/Olympus', 'schedule.timezone') // throws
 * ```
 */
export function assertTimeZone(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
    throw new PgqValidationError(
      path,
      'must be an IANA time zone name such as "Europe/Paris" or "UTC"',
      value,
    )
  }
  try {
    formatter(value)
  } catch {
    throw new PgqValidationError(
      path,
      `unknown time zone "${value}": use an IANA name such as "Europe/Paris"`,
      value,
    )
  }
  return value
}

/** @internal The zone's UTC offset at an instant, in ms (New York in winter: -18,000,000). */
export function offsetAt(timeZone: string, instant: number): number {
  const parts = formatter(timeZone).formatToParts(new Date(instant))
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  let year = get('year')
  if (parts.find((p) => p.type === 'era')?.value === 'B') year = 1 - year
  const wall = Date.UTC(year, get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return wall - (instant - (((instant % 1000) + 1000) % 1000))
}

/** @internal The wall time shown by the zone's clocks at an instant. */
export function wallAt(timeZone: string, instant: number): number {
  return instant + offsetAt(timeZone, instant)
}

const SPAN = 2 * 86_400_000

/**
 * @internal A stretch of time (`from`..`to`, instants) in which a zone's offset is `before` until
 * the instant `at` and `after` from then on (`at` is Infinity when it does not change). pgq assumes
 * at most one offset change within two days, which holds for every zone in use.
 */
export interface OffsetWindow {
  readonly from: number
  readonly to: number
  readonly at: number
  readonly before: number
  readonly after: number
}

/** @internal The offset window centred on an instant. */
export function offsetWindow(timeZone: string, instant: number): OffsetWindow {
  const from = instant - SPAN
  const to = instant + SPAN
  const before = offsetAt(timeZone, from)
  const after = offsetAt(timeZone, to)
  if (before === after && offsetAt(timeZone, instant) === before) {
    return { from, to, at: Number.POSITIVE_INFINITY, before, after }
  }
  // find the change to the second: offsetAt(low) === before, offsetAt(high) !== before
  let low = from
  let high = to
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000
    if (offsetAt(timeZone, middle) === before) low = middle
    else high = middle
  }
  return { from, to, at: high, before, after: offsetAt(timeZone, high) }
}

/** @internal The offset at an instant inside a window. */
export function offsetIn(window: OffsetWindow, instant: number): number {
  return instant < window.at ? window.before : window.after
}

/**
 * @internal The instants at which the zone's clocks show a wall time, if the window covers them:
 * one normally, two when the clocks were set back (the earlier first), none when they jumped over
 * it. Undefined when the window does not cover the wall time (ask for a new window).
 */
export function instantsIn(window: OffsetWindow, wall: number): number[] | undefined {
  const high = Math.max(window.before, window.after)
  const low = Math.min(window.before, window.after)
  if (wall - high < window.from || wall - low > window.to) return undefined
  const found: number[] = []
  for (const offset of high === low ? [high] : [high, low]) {
    if (offsetIn(window, wall - offset) === offset) found.push(wall - offset)
  }
  return found
}

/**
 * Formats an instant as an ISO 8601 local time with its offset in a zone.
 *
 * ```ts
 * formatInZone(new Date('2026-03-08T07:00:00Z'), 'America/New_York') // '2026-03-08T03:00:00-04:00'
 * ```
 */
export function formatInZone(instant: Date, timeZone: string): string {
  const offset = offsetAt(timeZone, instant.getTime())
  const wall = new Date(instant.getTime() + offset).toISOString().slice(0, 19)
  if (offset === 0) return `${wall}Z`
  const abs = Math.abs(offset) / 60_000
  const hh = String(Math.floor(abs / 60)).padStart(2, '0')
  const mm = String(Math.floor(abs % 60)).padStart(2, '0')
  return `${wall}${offset < 0 ? '-' : '+'}${hh}:${mm}`
}
