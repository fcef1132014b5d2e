import { describe, expect, it } from 'vitest'
import { parseCron } from '../src/schedule/cron.js'
import { planFires } from '../src/schedule/fire-plan.js'

const at = (iso: string) => new Date(iso)
const times = (plan: ReturnType<typeof planFires>) =>
  plan.fires.map((f) => `${f.at.toISOString().slice(11, 19)}${f.backfill ? ' backfill' : ''}`)

describe('planFires', () => {
  const hourly = parseCron('0 * * * *')

  it('an on-time tick fires under every policy; the next run is the following tick', () => {
    for (const missed of ['skip', 'once', 'all'] as const) {
      const plan = planFires(hourly, at('2030-01-01T10:00:00Z'), at('2030-01-01T10:00:01Z'), missed, 100)
      expect(times(plan)).toEqual(['10:00:00'])
      expect(plan.next?.toISOString()).toBe('2030-01-01T11:00:00.000Z')
    }
  })

  it('a tick claimed 60 s late is on time, 61 s late is missed', () => {
    const due = at('2030-01-01T10:00:00Z')
    expect(times(planFires(hourly, due, at('2030-01-01T10:01:00Z'), 'skip', 100))).toEqual(['10:00:00'])
    const late = planFires(hourly, due, at('2030-01-01T10:01:01Z'), 'skip', 100)
    expect(late).toMatchObject({ fires: [], skipped: 1 })
  })

  it('a per-second schedule down for a day: bounded work, no burst beyond the policy', () => {
    const spec = parseCron('* * * * * *', 'Europe/Berlin')
    const due = at('2030-03-30T12:00:00Z')
    const now = at('2030-03-31T12:00:00Z') // across the spring-forward night
    const skip = planFires(spec, due, now, 'skip', 100)
    const once = planFires(spec, due, now, 'once', 100)
    const all = planFires(spec, due, now, 'all', 5)
    // skip and once jump straight to the grace window: they count one missed tick, not 86,340
    expect(skip.skipped).toBe(1)
    expect(once.skipped).toBe(0)
    // all counts every missed tick (a day of seconds less the 60 s grace) and keeps only the last 5
    expect(all.skipped).toBe(24 * 3600 - 60 - 5)
    expect(skip.fires).toHaveLength(61) // the grace window only
    expect(once.fires.filter((f) => f.backfill)).toEqual([{ at: due, backfill: true }])
    expect(all.fires.filter((f) => f.backfill)).toHaveLength(5)
    expect(
      all.fires
        .filter((f) => f.backfill)
        .at(-1)
        ?.at.toISOString(),
    ).toBe('2030-03-31T11:58:59.000Z')
    for (const plan of [skip, once, all]) expect(plan.next?.toISOString()).toBe('2030-03-31T12:00:01.000Z')
  })
})
