import type pg from 'pg'
import { type SchemaNames, schemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import { listWorkers, type WorkerStatusRow } from '../sql/worker-status-queries.js'
import { assertInt } from '../util/validate.js'

/**
 * A worker process as its row in `<schema>.worker_status` says: alive (a fresh heartbeat), stopped
 * (it stopped gracefully) or lost (its heartbeat went stale: killed, frozen or cut off).
 *
 * ```ts
 * const [w] = await new WorkerList({ pool, schema: 'pgq' }).list()
 * console.log(w?.hostname, w?.pid, w?.status, w?.runningJobs)
 * ```
 */
export interface WorkerInfo {
  /** Random per process start; `jobs.locked_by`. */
  readonly id: string
  readonly hostname: string
  readonly pid: number
  readonly queues: readonly string[]
  /** Jobs at once over all its queues. */
  readonly concurrency: number
  readonly startedAt: Date
  readonly heartbeatAt: Date
  /** When it left (for a lost worker: its last heartbeat, once a rescuer marked it); else null. */
  readonly stoppedAt: Date | null
  readonly status: 'alive' | 'stopped' | 'lost'
  /** Jobs in state `running` under its id now. */
  readonly runningJobs: number
}

/**
 * Options of {@link WorkerList}.
 *
 * ```ts
 * const list = new WorkerList({ pool, schema: 'pgq' })
 * ```
 */
export interface WorkerListOptions {
  readonly pool: pg.Pool
  readonly schema: string
}

/**
 * Reads which workers are alive, from their heartbeats (Celery's `inspect ping`), and which left
 * lately. `pgq workers`, `pgq health` and the queue metrics read the same view.
 *
 * ```ts
 * const workers = await new WorkerList({ pool, schema: 'pgq' }).list({ goneWithinMs: 3_600_000 })
 * const alive = workers.filter((w) => w.status === 'alive')
 * ```
 */
export class WorkerList {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames

  constructor(options: WorkerListOptions) {
    if (typeof options?.pool?.query !== 'function')
      throw new PgqValidationError('pool', 'must be a pg.Pool', options?.pool)
    this.#pool = options.pool
    this.#names = schemaNames(options.schema)
  }

  /**
   * Live workers (newest first), then those that stopped or were lost within `goneWithinMs`
   * (default one hour; rows are kept for a day).
   */
  async list(options: { goneWithinMs?: number } = {}): Promise<WorkerInfo[]> {
    const goneWithinMs = assertInt(options.goneWithinMs ?? 3_600_000, 'goneWithinMs', 0, 7 * 86_400_000)
    return (await listWorkers(this.#pool, this.#names, goneWithinMs)).map(toWorkerInfo)
  }

  /** Live workers only. */
  async alive(): Promise<WorkerInfo[]> {
    return (await this.list({ goneWithinMs: 0 })).filter((w) => w.status === 'alive')
  }
}

function toWorkerInfo(row: WorkerStatusRow): WorkerInfo {
  return Object.freeze({
    id: row.id,
    hostname: row.hostname,
    pid: row.pid,
    queues: Object.freeze([...row.queues]),
    concurrency: row.concurrency,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    stoppedAt: row.stopped_at,
    status: row.status,
    runningJobs: row.running_jobs,
  })
}
