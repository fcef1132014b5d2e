import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { silentLogger } from '../src/logger.js'
import { defineSchedule } from '../src/schedule/schedule-definition.js'
import { ScheduleEnqueuer } from '../src/schedule/schedule-enqueuer.js'
import { Schedules } from '../src/schedule/schedules.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let db: TestSchema
let schedules: Schedules
const pools: pg.Pool[] = []
const errors: unknown[] = []

beforeAll(async () => {
  db = await createTestSchema()
  schedules = new Schedules({ pool: db.pool, schema: db.schema })
})
// each test starts with no schedules (simulated clocks would fire the previous tests' ones)
afterEach(async () => {
  await db.pool.query(`DELETE FROM "${db.schema}".schedules`)
})
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()))
  await db.drop()
})

function enqueuer(options: Partial<ConstructorParameters<typeof ScheduleEnqueuer>[0]> = {}, pool = db.pool) {
  return new ScheduleEnqueuer({
    pool,
    schema: db.schema,
    logger: silentLogger,
    onError: (_component, error) => errors.push(error),
    ...options,
  })
}

function ownPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 })
  pools.push(pool)
  return pool
}

/** A schedule row written in SQL with a given first tick. */
async function insert(
  name: string,
  cron: string,
  nextRunAt: string | null,
  extra: Record<string, unknown> = {},
) {
  const columns = ['name', 'cron', 'task', 'next_run_at', ...Object.keys(extra)]
  const values = [name, cron, 'tick', nextRunAt, ...Object.values(extra)]
  await db.pool.query(
    `INSERT INTO "${db.schema}".schedules (${columns.join(', ')}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})`,
    values,
  )
}

async function jobsOf(name: string): Promise<{ at: string; meta: Record<string, unknown> }[]> {
  const result = await db.pool.query(
    `SELECT scheduled_for AS at, meta FROM "${db.schema}".jobs WHERE schedule_name = $1 ORDER BY scheduled_for`,
    [name],
  )
  return result.rows.map((r) => ({ at: (r.at as Date).toISOString(), meta: r.meta }))
}

async function row(name: string) {
  const result = await db.pool.query(`SELECT * FROM "${db.schema}".schedules WHERE name = $1`, [name])
  return result.rows[0]
}

const iso = (ms: number) => new Date(ms).toISOString()
const HOUR = 3_600_000

describe('ScheduleEnqueuer: exactly once', () => {
  it('five schedulers on separate pools, 40 simulated minutes, 10 schedules: one job per tick', async () => {
    const start = Date.parse('2031-01-01T00:00:00Z')
    for (let i = 0; i < 10; i++) await insert(`many-${i}`, '* * * * *', iso(start))
    const schedulers = Array.from({ length: 5 }, () => enqueuer({ batchSize: 3 }, ownPool()))
    for (let minute = 0; minute < 40; minute++) {
      await Promise.all(
        schedulers.map(async (s) => {
          // each scheduler sees the tick a little later, and keeps going while batches are full
          const now = new Date(start + minute * 60_000 + Math.floor(Math.random() * 5_000))
          while ((await s.tick(now)).claimed === 3) {}
        }),
      )
    }
    const expected = Array.from({ length: 40 }, (_, m) => iso(start + m * 60_000))
    for (let i = 0; i < 10; i++) {
      expect((await jobsOf(`many-${i}`)).map((j) => j.at)).toEqual(expected)
      expect((await row(`many-${i}`)).next_run_at.toISOString()).toBe(iso(start + 40 * 60_000))
    }
  })

  it('real time: five running schedulers, a per-second schedule, no tick missing or doubled', async () => {
    await schedules.set({ name: 'every-second', cron: '* * * * * *', task: 'tick' })
    const first = (await row('every-second')).next_run_at as Date
    const running = Array.from({ length: 5 }, () => enqueuer({ intervalMs: 100 }, ownPool()))
    for (const s of running) await s.start()
    await waitFor(async () => (await jobsOf('every-second')).length >= 4, 15_000, 'four ticks')
    await Promise.all(running.map((s) => s.stop()))
    const ticks = (await jobsOf('every-second')).map((j) => Date.parse(j.at))
    expect(ticks[0]).toBe(first.getTime())
    expect(ticks).toEqual(ticks.map((_, i) => first.getTime() + i * 1000))
    expect((await row('every-second')).next_run_at.getTime()).toBe(ticks.at(-1)! + 1000)
  })
})

describe('ScheduleEnqueuer: missed ticks after 3 ticks of downtime', () => {
  const t1 = Date.parse('2031-02-01T10:00:00Z')

  it.each([
    ['skip', 5 * 60_000, []],
    ['once', 5 * 60_000, [[t1, true]]],
    [
      'all',
      5 * 60_000,
      [
        [t1, true],
        [t1 + HOUR, true],
        [t1 + 2 * HOUR, true],
      ],
    ],
    ['skip', 30_000, [[t1 + 2 * HOUR, false]]],
    [
      'once',
      30_000,
      [
        [t1, true],
        [t1 + 2 * HOUR, false],
      ],
    ],
    [
      'all',
      30_000,
      [
        [t1, true],
        [t1 + HOUR, true],
        [t1 + 2 * HOUR, false],
      ],
    ],
  ] as const)('%s, back %d ms after the third tick', async (missed, late, expected) => {
    const name = `missed-${missed}-${late}`
    await insert(name, '0 * * * *', iso(t1), { missed })
    const result = await enqueuer().tick(new Date(t1 + 2 * HOUR + late))
    expect(result.enqueued).toBe(expected.length)
    const jobs = await jobsOf(name)
    expect(jobs.map((j) => [Date.parse(j.at), j.meta.backfill === true])).toEqual(expected)
    expect((await row(name)).next_run_at.getTime()).toBe(t1 + 3 * HOUR)
    // nothing more until the next tick
    expect((await enqueuer().tick(new Date(t1 + 2 * HOUR + late + 1000))).enqueued).toBe(0)
  })

  it('all: at most backfill_limit missed ticks, the most recent ones', async () => {
    await insert('limited', '0 * * * *', iso(t1), { missed: 'all', backfill_limit: 2 })
    await enqueuer().tick(new Date(t1 + 2 * HOUR + 5 * 60_000))
    expect((await jobsOf('limited')).map((j) => Date.parse(j.at))).toEqual([t1 + HOUR, t1 + 2 * HOUR])
  })
})

describe('ScheduleEnqueuer: runtime changes, DST, errors', () => {
  it('a cron change in SQL takes effect at the next pass', async () => {
    const t0 = Date.parse('2031-03-01T00:00:00Z')
    await insert('changing', '0 * * * *', iso(t0 + HOUR))
    await db.pool.query(`UPDATE "${db.schema}".schedules SET cron = '*/10 * * * *' WHERE name = 'changing'`)
    expect((await row('changing')).next_run_at).toBeNull()
    const s = enqueuer()
    await s.tick(new Date(t0 + 60_000)) // computes the next run from the new expression
    expect((await row('changing')).next_run_at.toISOString()).toBe(iso(t0 + 10 * 60_000))
    for (const minute of [10, 20, 25, 30]) await s.tick(new Date(t0 + minute * 60_000))
    expect((await jobsOf('changing')).map((j) => j.at)).toEqual([10, 20, 30].map((m) => iso(t0 + m * 60_000)))
  })

  it('fires a New York 02:30 schedule once at 03:00 EDT on the spring-forward day', async () => {
    await insert('ny', '30 2 * * *', null, { timezone: 'America/New_York' })
    const s = enqueuer()
    await s.tick(new Date('2026-03-07T12:00:00Z'))
    for (let m = 0; m <= 6 * 60; m += 15)
      await s.tick(new Date(Date.parse('2026-03-08T05:00:00Z') + m * 60_000))
    expect((await jobsOf('ny')).map((j) => j.at)).toEqual(['2026-03-08T07:00:00.000Z'])
  })

  it('a row corrupted in SQL is marked errored; the others keep firing; fixing it revives it', async () => {
    const t0 = Date.parse('2031-04-01T00:00:00Z')
    await insert('good', '* * * * *', iso(t0))
    await insert('bad-cron', '* * * * *', iso(t0))
    await insert('bad-tz', '* * * * *', iso(t0))
    await db.pool.query(`UPDATE "${db.schema}".schedules SET cron = 'every minute' WHERE name = 'bad-cron'`)
    await db.pool.query(`UPDATE "${db.schema}".schedules SET timezone = 'Nowhere/Land' WHERE name = 'bad-tz'`)
    const s = enqueuer()
    const result = await s.tick(new Date(t0))
    expect(result.errored).toBe(2)
    await s.tick(new Date(t0 + 60_000))
    expect(await jobsOf('good')).toHaveLength(2)
    expect((await row('bad-cron')).error).toMatch(/cron: must have 5 fields/)
    expect((await row('bad-tz')).error).toMatch(/unknown time zone "Nowhere\/Land"/)
    const listed = await schedules.list()
    expect(listed.find((l) => l.name === 'bad-tz')?.status).toBe('errored')
    await db.pool.query(`UPDATE "${db.schema}".schedules SET cron = '*/2 * * * *' WHERE name = 'bad-cron'`)
    expect((await row('bad-cron')).error).toBeNull()
    await s.tick(new Date(t0 + 90_000))
    await s.tick(new Date(t0 + 120_000))
    expect((await jobsOf('bad-cron')).map((j) => j.at)).toEqual([iso(t0 + 120_000)])
  })

  it('a job the database refuses errors only its own schedule, in the same pass', async () => {
    const t0 = Date.parse('2031-05-01T00:00:00Z')
    await db.pool.query(`CREATE FUNCTION "${db.schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.task = 'explode' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$`)
    await db.pool.query(
      `CREATE TRIGGER refuse BEFORE INSERT ON "${db.schema}".jobs FOR EACH ROW EXECUTE FUNCTION "${db.schema}".refuse()`,
    )
    try {
      await insert('fine', '* * * * *', iso(t0))
      await insert('explodes', '* * * * *', iso(t0))
      await db.pool.query(`UPDATE "${db.schema}".schedules SET task = 'explode' WHERE name = 'explodes'`)
      const result = await enqueuer().tick(new Date(t0))
      expect(result).toEqual({ claimed: 2, enqueued: 1, errored: 1 })
      expect((await row('explodes')).error).toMatch(/enqueue failed: refused by a test trigger/)
      expect(await jobsOf('fine')).toHaveLength(1)
    } finally {
      await db.pool.query(`DROP TRIGGER refuse ON "${db.schema}".jobs`)
    }
  })
})

describe('ScheduleEnqueuer: schedules declared in code', () => {
  const report = defineSchedule({ name: 'code-report', cron: '0 3 * * *', task: 'report', missed: 'once' })
  const cleanup = defineSchedule({ name: 'code-cleanup', cron: '0 4 * * *', task: 'cleanup' })

  it('upserts on start, keeps the due tick on restart, removes the ones no longer declared', async () => {
    await schedules.set({ name: 'table-made', cron: '0 5 * * *', task: 'other' })
    const first = enqueuer({ schedules: [report, cleanup], intervalMs: 60_000 })
    await first.start()
    await first.stop()
    expect((await row('code-report')).source).toBe('code')
    expect((await row('code-report')).missed).toBe('once')
    await db.pool.query(
      `UPDATE "${db.schema}".schedules SET next_run_at = '2020-01-01T03:00:00Z' WHERE name = 'code-report'`,
    )
    const second = enqueuer({ schedules: [report], intervalMs: 60_000 })
    await second.start()
    await waitFor(async () => (await jobsOf('code-report')).length === 1, 10_000, 'the kept due tick')
    await second.stop()
    expect((await jobsOf('code-report'))[0]).toMatchObject({ at: '2020-01-01T03:00:00.000Z' })
    expect(await row('code-cleanup')).toBeUndefined()
    expect(await row('table-made')).toBeDefined()
  })

  it('validates code schedules against the task registry at construction', () => {
    expect(() => enqueuer({ schedules: [report], knownTasks: new Set(['cleanup']) })).toThrow(
      PgqValidationError,
    )
    expect(() => enqueuer({ schedules: [report, report] })).toThrow(/declared twice/)
    expect(() => enqueuer({ intervalMs: 0 })).toThrow(/intervalMs/)
    expect(errors).toEqual([])
  })
})
