import { describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { fireTimes, nextFireTime, nextFireTimes, parseCron } from '../src/schedule/cron.js'
import { assertTimeZone, formatInZone } from '../src/schedule/time-zone.js'

/** The next `n` fire times as local ISO strings of the schedule's zone. */
function local(cron: string, tz: string, from: string, n: number): string[] {
  const spec = parseCron(cron, tz)
  return nextFireTimes(spec, new Date(from), n).map((at) => formatInZone(at, tz))
}

describe('parseCron: validation', () => {
  it.each([
    ['', /must be a cron expression/],
    ['banana', /must have 5 fields/],
    ['* * * *', /got 4/],
    ['* * * * * * *', /got 7/],
    ['61 * * * *', /invalid cron expression: .*61/],
    ['0 0 30 2 *', /never fires/],
    ['0 0 31 4,6 *', /never fires/],
    ['H * * * *', /hashed values/],
  ])('rejects %j', (cron, message) => {
    const error = (() => {
      try {
        parseCron(cron, 'UTC', 'schedule.cron')
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(PgqValidationError)
    expect((error as PgqValidationError).path).toBe('schedule.cron')
    expect((error as Error).message).toMatch(message)
  })

  it('rejects unknown time zones, naming the value', () => {
    expect(() => parseCron('* * * * *', 'Mars/Olympus', 'schedule.cron')).toThrow(
      /schedule.timezone: unknown time zone "Mars\/Olympus"/,
    )
    expect(() => assertTimeZone('', 'tz')).toThrow(PgqValidationError)
  })

  it('accepts 5 fields, 6 with seconds, aliases and day names', () => {
    expect(parseCron('*/5 * * * *').hasSeconds).toBe(false)
    expect(parseCron('*/2 * * * * *').hasSeconds).toBe(true)
    expect(parseCron('@daily').everyHour).toBe(false)
    expect(parseCron('0 9 * * THU').everyHour).toBe(false)
    expect(parseCron('*/15 * * * *').everyHour).toBe(true)
    expect(parseCron('0 0 29 2 *').expression).toBe('0 0 29 2 *')
    expect(nextFireTime(parseCron('0 0 29 2 *'), new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2028-02-29T00:00:00.000Z',
    )
    expect(local('*/20 * * * * *', 'UTC', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T00:00:20Z',
      '2026-01-01T00:00:40Z',
      '2026-01-01T00:01:00Z',
    ])
  })
})

describe('DST policy', () => {
  it('America/New_York spring forward: a skipped 02:30 fires once at 03:00 EDT', () => {
    expect(local('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T03:00:00-04:00',
      '2026-03-09T02:30:00-04:00',
      '2026-03-10T02:30:00-04:00',
    ])
    // every minute of the skipped hour collapses into one fire
    expect(local('* 2 * * *', 'America/New_York', '2026-03-08T06:58:00Z', 2)).toEqual([
      '2026-03-08T03:00:00-04:00',
      '2026-03-09T02:00:00-04:00',
    ])
  })

  it('America/New_York fall back: a repeated 01:30 fires once (its first occurrence)', () => {
    expect(local('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T01:30:00-04:00',
      '2026-11-02T01:30:00-05:00',
    ])
  })

  it('America/New_York: every-hour expressions keep absolute time across both changes', () => {
    expect(local('*/30 * * * *', 'America/New_York', '2026-11-01T04:00:00Z', 6)).toEqual([
      '2026-11-01T00:30:00-04:00',
      '2026-11-01T01:00:00-04:00',
      '2026-11-01T01:30:00-04:00',
      '2026-11-01T01:00:00-05:00',
      '2026-11-01T01:30:00-05:00',
      '2026-11-01T02:00:00-05:00',
    ])
    expect(local('*/30 * * * *', 'America/New_York', '2026-03-08T06:00:00Z', 3)).toEqual([
      '2026-03-08T01:30:00-05:00',
      '2026-03-08T03:00:00-04:00',
      '2026-03-08T03:30:00-04:00',
    ])
  })

  it('Australia/Melbourne spring forward (October) and fall back (April)', () => {
    expect(local('30 2 * * *', 'Australia/Melbourne', '2026-10-03T00:00:00Z', 2)).toEqual([
      '2026-10-04T03:00:00+11:00',
      '2026-10-05T02:30:00+11:00',
    ])
    expect(local('30 2 * * *', 'Australia/Melbourne', '2026-04-04T00:00:00Z', 2)).toEqual([
      '2026-04-05T02:30:00+11:00',
      '2026-04-06T02:30:00+10:00',
    ])
    expect(local('0 * * * *', 'Australia/Melbourne', '2026-04-04T14:30:00Z', 4)).toEqual([
      '2026-04-05T02:00:00+11:00',
      '2026-04-05T02:00:00+10:00',
      '2026-04-05T03:00:00+10:00',
      '2026-04-05T04:00:00+10:00',
    ])
  })

  it('a per-second schedule runs on without a gap or a repeat across both changes', () => {
    const spec = parseCron('* * * * * *', 'America/New_York')
    for (const start of ['2026-03-08T06:30:00Z', '2026-11-01T05:30:00Z']) {
      let previous = new Date(start).getTime()
      let count = 0
      for (const at of fireTimes(spec, new Date(start))) {
        expect(at.getTime() - previous).toBe(1000)
        previous = at.getTime()
        if (++count === 2 * 3600) break
      }
    }
  })
})
