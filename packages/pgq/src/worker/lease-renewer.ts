import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { renewLeases, type WorkerRow } from '../sql/lease-queries.js'
import type { HeldJobs } from './held-jobs.js'
import type { RunningJob } from './running-job.js'
import { PeriodicService, type Service } from './service.js'

/** Why a worker gave up a job it held (the `reason` of `job:lease-lost`). */
export type LeaseLostReason =
  /** The heartbeat found the lease gone (expired and rescued, or the job was taken over). */
  | 'renewal-refused'
  /** Like `renewal-refused`, after the heartbeat could not reach the database for longer than the lease. */
  | 'expired-during-outage'
  /** The handler finished but the database refused its outcome: the lease was no longer this worker's. */
  | 'outcome-fenced'
  /**
   * This worker claimed the job again while an earlier run of it was still here (its lease had
   * expired, as when the event loop was blocked past the lease): the earlier run is dropped.
   */
  | 'reclaimed'

/** @internal Options of {@link LeaseRenewer}. */
export interface LeaseRenewerOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  /** This worker's row, inserted again if the rescuer deleted it. */
  readonly worker: WorkerRow
  readonly held: HeldJobs
  readonly leaseMs: number
  readonly intervalMs: number
  /** A held job's lease is gone; its handler was aborted and it is no longer held. */
  readonly onLeaseLost: (job: RunningJob, reason: LeaseLostReason) => void
  readonly onError: (component: string, error: unknown) => void
  readonly onSuccess?: () => void
}

/**
 * @internal The heartbeat: every `intervalMs` it refreshes the worker row (re-inserting it when
 * gone) and extends the lease of every held job in one statement. A job whose lease could not be
 * extended is dropped from {@link HeldJobs} (its handler aborted with `lease-lost`), unless its
 * outcome is already being written — that write's fence decides. A pending cancel aborts the
 * handler with `cancelled`.
 *
 * ```ts
 * const renewer = new LeaseRenewer({ pool, names, worker, held, leaseMs: 15_000, intervalMs: 5_000, onLeaseLost, onError })
 * renewer.start()
 * ```
 */
export class LeaseRenewer implements Service {
  readonly #options: LeaseRenewerOptions
  readonly #service: PeriodicService
  #lastRenewedAt = performance.now()

  constructor(options: LeaseRenewerOptions) {
    this.#options = Object.freeze({ ...options })
    this.#service = new PeriodicService({
      name: 'heartbeat',
      intervalMs: options.intervalMs,
      jitter: 0,
      runAtStart: false,
      // never wait longer than a lease between tries while the database is away
      maxBackoffMs: Math.max(options.intervalMs, options.leaseMs),
      run: () => this.renewOnce(),
      onError: options.onError,
      ...(options.onSuccess ? { onSuccess: options.onSuccess } : {}),
    })
  }

  start(): void {
    this.#lastRenewedAt = performance.now()
    this.#service.start()
  }

  /** Renews now (the database just came back). */
  trigger(): void {
    this.#service.trigger()
  }

  stop(): Promise<void> {
    return this.#service.stop()
  }

  /** One heartbeat. Throws when the statement fails (the periodic loop reports it and backs off). */
  async renewOnce(): Promise<void> {
    const { held, pool, names, worker, leaseMs } = this.#options
    // a job whose ctx.transaction committed is finished: it has no lease left to renew
    const jobs = held.all().filter((job) => !job.committed)
    const renewed = await renewLeases(pool, names, {
      worker,
      ids: jobs.map((j) => j.claim.id),
      tokens: jobs.map((j) => j.claim.leaseToken),
      leaseMs,
    })
    const now = performance.now()
    const outage = now - this.#lastRenewedAt > leaseMs
    this.#lastRenewedAt = now
    const alive = new Map(renewed.map((r) => [r.id, r.cancel_requested]))
    for (const job of jobs) {
      const cancel = alive.get(job.claim.id)
      if (job.committed) continue // committed by ctx.transaction while the heartbeat ran
      if (cancel === undefined) {
        if (held.drop(job, 'lease-lost'))
          this.#options.onLeaseLost(job, outage ? 'expired-during-outage' : 'renewal-refused')
      } else if (cancel) {
        job.abort('cancelled')
      }
    }
  }
}
