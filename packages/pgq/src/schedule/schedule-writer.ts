import type { Executor } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { databaseNow } from '../sql/clock-queries.js'
import {
  insertSchedule,
  type ScheduleRow,
  type ScheduleWrite,
  upsertSchedule,
} from '../sql/schedule-queries.js'
import { nextFireTime, parseCron } from './cron.js'
import type { ScheduleDefinition } from './schedule-definition.js'

/** @internal The row values of a definition, with its first fire time after the database's `now`. */
function toWrite(definition: ScheduleDefinition, source: 'code' | 'table', now: Date): ScheduleWrite {
  const spec = parseCron(definition.cron, definition.timezone, 'schedule.cron', now)
  return {
    name: definition.name,
    cron: definition.cron,
    timezone: definition.timezone,
    task: definition.task,
    payloadJson: definition.payloadJson,
    queue: definition.queue,
    priority: definition.priority,
    maxAttempts: definition.maxAttempts,
    missed: definition.missed,
    backfillLimit: definition.backfillLimit,
    source,
    nextRunAt: nextFireTime(spec, now),
  }
}

/**
 * @internal Creates or updates schedules by name (see `upsertSchedule` for what is kept), with next
 * run times computed from the database clock.
 */
export async function writeDefinitions(
  db: Executor,
  names: SchemaNames,
  definitions: readonly ScheduleDefinition[],
  source: 'code' | 'table',
): Promise<(ScheduleRow & { inserted: boolean })[]> {
  if (definitions.length === 0) return []
  const now = await databaseNow(db)
  const rows: (ScheduleRow & { inserted: boolean })[] = []
  for (const definition of definitions) {
    rows.push(await upsertSchedule(db, names, toWrite(definition, source, now)))
  }
  return rows
}

/** @internal Creates a schedule; null when the name is taken. */
export async function createDefinition(
  db: Executor,
  names: SchemaNames,
  definition: ScheduleDefinition,
): Promise<ScheduleRow | null> {
  const now = await databaseNow(db)
  return insertSchedule(db, names, toWrite(definition, 'table', now))
}
