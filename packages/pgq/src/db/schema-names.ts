import { assertSchemaName, quoteIdentifier } from './identifiers.js'

/**
 * The quoted, validated names of everything pgq keeps in one schema. Runtime SQL interpolates only
 * these; every value is a bound parameter.
 *
 * @internal
 */
export interface SchemaNames {
  readonly schema: string
  readonly quoted: string
  readonly jobs: string
  readonly workers: string
  /** The view of every worker row with its status (alive, stopped, lost); migration 0008. */
  readonly workerStatus: string
  readonly schedules: string
  /** Flow-control settings per queue (pause, limits); migration 0012. */
  readonly queues: string
  /** The view of each queue's settings with its running and waiting jobs; migration 0012. */
  readonly queueStatus: string
  readonly migrations: string
  readonly enqueueMany: string
  /** NOTIFY channel announcing new jobs; payload: queue name (or `queue@epochMs` for future jobs). */
  readonly jobsChannel: string
  /** NOTIFY channel announcing job events (finished, cancel requested, progress); payload: see docs. */
  readonly eventsChannel: string
}

const cache = new Map<string, SchemaNames>()

/** @internal */
export function schemaNames(schema: string): SchemaNames {
  const cached = cache.get(schema)
  if (cached) return cached
  assertSchemaName(schema)
  const quoted = quoteIdentifier(schema)
  const names: SchemaNames = Object.freeze({
    schema,
    quoted,
    jobs: `${quoted}.jobs`,
    workers: `${quoted}.workers`,
    workerStatus: `${quoted}.worker_status`,
    schedules: `${quoted}.schedules`,
    queues: `${quoted}.queues`,
    queueStatus: `${quoted}.queue_status`,
    migrations: `${quoted}.migrations`,
    enqueueMany: `${quoted}.enqueue_many`,
    jobsChannel: `${schema}:jobs`,
    eventsChannel: `${schema}:events`,
  })
  cache.set(schema, names)
  return names
}
