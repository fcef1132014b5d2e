import { type CronExpression, CronExpressionParser } from 'cron-parser'
import { PgqValidationError } from '../errors.js'
import {
  assertTimeZone,
  instantsIn,
  type OffsetWindow,
  offsetAt,
  offsetIn,
  offsetWindow,
} from './time-zone.js'

/**
 * A validated cron expression in a time zone. Build it with {@link parseCron}; ask it for fire
 * times with {@link nextFireTime} and {@link nextFireTimes}.
 *
 * Fire times follow the zone's wall clock, with this DST policy:
 * - an expression whose hour field matches every hour (`*`, `*\/1`, `0-23`) runs on absolute
 *   time: nothing fires in the hour the clocks skip, and the repeated hour fires twice (so
 *   "every 15 minutes" stays every 15 minutes);
 * - any other expression fires each matching local date-time exactly once: a time the clocks skip
 *   (02:30 on a spring-forward night) fires at the first valid instant after the jump (03:00),
 *   and a time that occurs twice (01:30 on a fall-back night) fires at its first occurrence.
 */
export interface CronSpec {
  readonly expression: string
  readonly timeZone: string
  /** True when the hour field matches all 24 hours (the absolute-time DST policy applies). */
  readonly everyHour: boolean
  /** True when the expression has a seconds field (6 fields). */
  readonly hasSeconds: boolean
}

const ALIASES = new Set([
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@hourly',
  '@minutely',
  '@secondly',
  '@weekdays',
  '@weekends',
])

/** Fire times beyond this horizon count as "never" (so `0 0 30 2 *` is rejected on write). */
const HORIZON_MS = 100 * 366 * 86_400_000
/** Two days, in ms. */
const SPAN = 2 * 86_400_000
/** A safety cap on the cron iterations of one walk. */
const MAX_STEPS = 10_000_000

/**
 * Validates a cron expression (5 fields, or 6 with a leading seconds field, or an alias such as
 * `@daily`) and an IANA time zone, and checks that the expression fires at least once in the next
 * 100 years. Throws {@link PgqValidationError} naming the bad value.
 *
 * ```ts
 * const spec = parseCron('30 2 * * *', 'America/New_York')
 * nextFireTime(spec, new Date('2026-03-07T12:00:00Z')) // 2026-03-08T07:00:00Z (03:00 EDT: 02:30 does not exist)
 * parseCron('0 0 30 2 *', 'UTC') // throws: never fires
 * ```
 */
export function parseCron(
  expression: unknown,
  timeZone: unknown = 'UTC',
  path = 'cron',
  now = new Date(),
): CronSpec {
  const tz = assertTimeZone(timeZone, path.endsWith('cron') ? `${path.slice(0, -4)}timezone` : 'timezone')
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new PgqValidationError(path, 'must be a cron expression such as "*/5 * * * *"', expression)
  }
  const text = expression.trim().replace(/\s+/g, ' ')
  const fields = text.split(' ')
  const alias = fields.length === 1 && ALIASES.has(text.toLowerCase())
  if (!alias && fields.length !== 5 && fields.length !== 6) {
    throw new PgqValidationError(
      path,
      `must have 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, got ${fields.length}`,
      expression,
    )
  }
  if (/(^|[\s,])H(?=$|[\s,(/])/i.test(text)) {
    throw new PgqValidationError(
      path,
      'hashed values (H) are not supported: write the minute you want',
      expression,
    )
  }
  let parsed: CronExpression
  try {
    parsed = CronExpressionParser.parse(text, { tz: 'UTC', currentDate: new Date(0) })
  } catch (error) {
    const message = (error as Error).message
    if (/day of month/i.test(message)) {
      throw new PgqValidationError(
        path,
        'never fires: no month it names has that day (e.g. 30 February)',
        expression,
      )
    }
    throw new PgqValidationError(path, `invalid cron expression: ${message}`, expression)
  }
  const spec: CronSpec = Object.freeze({
    expression: text,
    timeZone: tz,
    everyHour: parsed.fields.hour.values.length === 24,
    hasSeconds: alias ? text.toLowerCase() === '@secondly' : fields.length === 6,
  })
  const first = nextFireTime(spec, now)
  if (first === null || first.getTime() - now.getTime() > HORIZON_MS) {
    throw new PgqValidationError(path, 'never fires (no matching date in the next 100 years)', expression)
  }
  return spec
}

/**
 * The instants a wall-clock tick fires at, under the DST policy of {@link CronSpec}, and the
 * offset window used (reused for the next tick, so most ticks cost no time-zone lookup).
 */
function firesOf(spec: CronSpec, wall: number, window: OffsetWindow): [number[], OffsetWindow] {
  let instants = instantsIn(window, wall)
  if (instants === undefined) {
    window = offsetWindow(spec.timeZone, wall - offsetAt(spec.timeZone, wall))
    instants = instantsIn(window, wall) ?? [wall - offsetAt(spec.timeZone, wall)]
  }
  if (instants.length === 0) return [spec.everyHour ? [] : [window.at], window]
  if (instants.length > 1 && !spec.everyHour) return [[instants[0]!], window]
  return [instants, window]
}

/**
 * The fire times strictly after `after`, in order, lazily (one cron iterator for the whole walk).
 * Ends when the expression never fires again within the 100-year horizon.
 *
 * ```ts
 * for (const at of fireTimes(parseCron('*\/15 * * * *', 'Europe/Paris'), new Date())) {
 *   if (at > until) break
 * }
 * ```
 */
export function* fireTimes(spec: CronSpec, after: Date): Generator<Date, void, undefined> {
  let from = after.getTime()
  let window = offsetWindow(spec.timeZone, from)
  // No tick whose wall time is before `from + smallest offset` can fire after `from`.
  const iterator = CronExpressionParser.parse(spec.expression, {
    tz: 'UTC',
    currentDate: new Date(from + Math.min(window.before, window.after) - 1000),
  })
  // Ticks seen but not yielded yet, ascending. Only around a repeated hour can a later wall tick
  // fire earlier than an earlier one, so a candidate is final once the walk is past its wall time
  // by the size of the offset change.
  const pending: number[] = []
  for (let step = 0; ; step++) {
    let wall: number | null = null
    if (step < MAX_STEPS) {
      try {
        wall = iterator.next().getTime()
      } catch {
        wall = null
      }
    }
    if (wall !== null && wall - from > HORIZON_MS + SPAN) wall = null
    while (pending.length > 0) {
      const first = pending[0]!
      if (first < window.from || first > window.to) window = offsetWindow(spec.timeZone, first)
      const change = Math.abs(window.after - window.before)
      const near = Math.abs(first - window.at) <= change
      const horizon = first + offsetIn(window, first) + (near ? change : 0)
      if (wall !== null && wall <= horizon) break
      pending.shift()
      from = first
      yield new Date(first)
    }
    if (wall === null) return
    let instants: number[]
    ;[instants, window] = firesOf(spec, wall, window)
    for (const instant of instants) if (instant > from) insertSorted(pending, instant)
  }
}

/** Inserts into an ascending array unless present (usually at the end: ticks mostly come in order). */
function insertSorted(values: number[], value: number): void {
  let low = 0
  let high = values.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (values[middle]! < value) low = middle + 1
    else high = middle
  }
  if (values[low] !== value) values.splice(low, 0, value)
}

/**
 * The first fire time strictly after `after`, or `null` when the expression never fires again
 * (within the 100-year horizon).
 *
 * ```ts
 * nextFireTime(parseCron('0 9 * * 1-5', 'Europe/Paris'), new Date()) // next weekday, 09:00 Paris time
 * ```
 */
export function nextFireTime(spec: CronSpec, after: Date): Date | null {
  for (const at of fireTimes(spec, after)) return at
  return null
}

/**
 * The next `count` fire times after `after`, in order (fewer when the expression stops firing).
 *
 * ```ts
 * nextFireTimes(parseCron('0 0 * * *', 'Australia/Melbourne'), new Date(), 5)
 * ```
 */
export function nextFireTimes(spec: CronSpec, after: Date, count: number): Date[] {
  const times: Date[] = []
  if (count < 1) return times
  for (const at of fireTimes(spec, after)) {
    times.push(at)
    if (times.length >= count) break
  }
  return times
}
