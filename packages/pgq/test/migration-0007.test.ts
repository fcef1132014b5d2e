import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../src/logger.js'
import { MIGRATIONS, renderMigration } from '../src/migrate/migrations.js'
import { Migrator } from '../src/migrate/migrator.js'
import { ScheduleEnqueuer } from '../src/schedule/schedule-enqueuer.js'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

// Upgrading a live schema: migration 0007 makes schedules.queue/priority nullable. Schedules stored
// before keep the values they had (an explicit 'default' cannot be told from the old default);
// rows written after without a queue follow the task registry.
const schema = uniqueSchemaName('up7')
let pool: pg.Pool

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 3 })
  await pool.query(`CREATE SCHEMA "${schema}"`)
})
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

async function columns() {
  const { rows } = await pool.query(
    `SELECT column_name, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = 'schedules' AND column_name IN ('queue', 'priority')
     ORDER BY column_name`,
    [schema],
  )
  return rows
}

async function stored() {
  const { rows } = await pool.query(`SELECT name, queue, priority FROM "${schema}".schedules ORDER BY name`)
  return rows
}

describe('migration 0007 on a schema with schedules', () => {
  it('keeps the stored queues and priorities, and lets new rows follow the task', async () => {
    // a schema migrated by the previous release (0001-0006), then in use
    await new Migrator(
      { pool, schema },
      MIGRATIONS.filter((m) => m.version <= 6),
    ).migrate()
    expect(await columns()).toEqual([
      { column_name: 'priority', is_nullable: 'NO', column_default: '0' },
      { column_name: 'queue', is_nullable: 'NO', column_default: "'default'::text" },
    ])
    await pool.query(
      `INSERT INTO "${schema}".tasks (name, queue, priority) VALUES ('send_email', 'emails', 4)`,
    )
    await pool.query(
      `INSERT INTO "${schema}".schedules (name, cron, task, next_run_at) VALUES ('old-by-name', '0 0 1 1 *', 'send_email', now() - interval '1 second')`,
    )
    await pool.query(
      `INSERT INTO "${schema}".schedules (name, cron, task, queue, priority) VALUES ('old-explicit', '0 0 1 1 *', 'send_email', 'mail', 2)`,
    )
    const before = await stored()
    expect(before).toEqual([
      { name: 'old-by-name', queue: 'default', priority: 0 },
      { name: 'old-explicit', queue: 'mail', priority: 2 },
    ])

    await new Migrator({ pool, schema }).migrate()

    expect(await columns()).toEqual([
      { column_name: 'priority', is_nullable: 'YES', column_default: null },
      { column_name: 'queue', is_nullable: 'YES', column_default: null },
    ])
    expect(await stored()).toEqual(before)
    // an old row still fires into the queue it stored
    const scheduler = new ScheduleEnqueuer({ pool, schema, logger: silentLogger, onError: () => {} })
    expect(await scheduler.tick()).toMatchObject({ enqueued: 1 })
    const { rows: fired } = await pool.query(`SELECT queue, priority FROM "${schema}".jobs`)
    expect(fired).toEqual([{ queue: 'default', priority: 0 }])

    // a row written now without them stores NULL and fires into the task's queue
    await pool.query(
      `INSERT INTO "${schema}".schedules (name, cron, task, next_run_at) VALUES ('new-by-name', '0 0 1 1 *', 'send_email', now() - interval '1 second')`,
    )
    expect((await stored()).find((r) => r.name === 'new-by-name')).toEqual({
      name: 'new-by-name',
      queue: null,
      priority: null,
    })
    expect(await scheduler.tick()).toMatchObject({ enqueued: 1 })
    const { rows: fresh } = await pool.query(
      `SELECT queue, priority FROM "${schema}".jobs WHERE schedule_name = 'new-by-name'`,
    )
    expect(fresh).toEqual([{ queue: 'emails', priority: 4 }])
    // the name check still holds
    await expect(
      pool.query(`UPDATE "${schema}".schedules SET queue = '' WHERE name = 'new-by-name'`),
    ).rejects.toThrow(/schedules_queue_check/)
    const m7 = MIGRATIONS.find((m) => m.version === 7)!
    expect(m7.name).toBe('schedule_task_defaults')
    expect(renderMigration(m7, schema)).not.toContain('{{')
  })
})
