import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { claimNextDue, listTestJobs } from '../sql/testing-queries.js'
import { finalizeJobs } from '../sql/worker-queries.js'
import type { AnyTaskDefinition } from '../task/task.js'
import { WorkerEvents } from '../worker/events.js'
import { toFinalizeItem } from '../worker/job-completer.js'
import { JobExecutor } from '../worker/job-executor.js'
import type { JobOutcome } from '../worker/outcome.js'
import { RunningJob } from '../worker/running-job.js'
import { resolveWorkerConfig } from '../worker/worker-config.js'

/**
 * How one run of a job ended, as @pgq/core/testing reports it: `succeeded`, `failed`, `cancelled`, `retry`
 * (the attempt failed; the job waits for its next one) or `snoozed` (`snooze()` or `ctx.sleep`).
 *
 * ```ts
 * const run: JobRun<{ sent: boolean }> = await queue.runJob(sendEmail, { to: 'a@example.com' })
 * if (run.state === 'succeeded') console.log(run.result.sent)
 * ```
 */
export interface JobRun<R = unknown> {
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly attempt: number
  readonly state: 'succeeded' | 'failed' | 'cancelled' | 'retry' | 'snoozed'
  /** The stored result (JSON, as `pgq.jobs.waitFor` returns it), or null. */
  readonly result: R | null
  /** The error of a failed attempt (`retry`, `failed`), as stored on the job, else null. */
  readonly error: { readonly name: string; readonly message: string } | null
}

/** A lease long enough that nothing rescues a job while a test runs it (there is no heartbeat). */
const TEST_LEASE_MS = 3_600_000

/**
 * @internal Runs jobs one at a time with the worker's own executor: claim (fenced, lease token),
 * run the handler with a real context, write the outcome with the worker's finalize statement.
 */
export class TestJobRunner {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #maxPayloadBytes: number
  readonly #workerId = randomUUID()

  constructor(pool: pg.Pool, names: SchemaNames, maxPayloadBytes: number) {
    this.#pool = pool
    this.#names = names
    this.#maxPayloadBytes = maxPayloadBytes
  }

  /** Claims and runs the first due job of `tasks` (or job `id`); null when none is due by `now`. */
  async runNext(
    tasks: readonly AnyTaskDefinition[],
    filter: {
      readonly queues?: readonly string[] | undefined
      readonly id?: string
      readonly now?: Date | undefined
    },
  ): Promise<JobRun | null> {
    const config = resolveWorkerConfig({ tasks: [...tasks], concurrency: 1 })
    const claim = await claimNextDue(this.#pool, this.#names, {
      tasks: [...config.tasks.keys()],
      queues: filter.queues ?? null,
      id: filter.id ?? null,
      now: filter.now ?? null,
      workerId: this.#workerId,
      leaseMs: TEST_LEASE_MS,
    })
    if (!claim) return null
    const executor = new JobExecutor({
      config,
      pool: this.#pool,
      names: this.#names,
      events: new WorkerEvents(),
      maxPayloadBytes: this.#maxPayloadBytes,
      onError: () => {},
    })
    const job = new RunningJob(claim)
    job.markStarted()
    let outcome: JobOutcome | null
    try {
      outcome = await executor.execute(job)
    } finally {
      await executor.close()
    }
    if (outcome && !(outcome.kind === 'succeeded' && outcome.committed)) {
      const item = toFinalizeItem(claim, outcome)
      await finalizeJobs(this.#pool, this.#names, [item], config.maxErrorsKept, false, true)
    }
    const [row] = await listTestJobs(this.#pool, this.#names, {
      ids: [claim.id],
      task: null,
      queue: null,
      states: null,
      payload: null,
    })
    const last = row?.errors.at(-1)
    const failedAttempt = outcome?.kind === 'retry' || outcome?.kind === 'failed'
    return Object.freeze({
      id: claim.id,
      task: claim.task,
      queue: claim.queue,
      attempt: claim.attempt,
      state: stateOf(outcome, row?.state),
      result: (row?.result ?? null) as unknown,
      error: failedAttempt && last ? { name: String(last.name), message: String(last.message) } : null,
    })
  }
}

function stateOf(outcome: JobOutcome | null, written: string | undefined): JobRun['state'] {
  if (written === 'succeeded' || written === 'failed' || written === 'cancelled') return written
  if (outcome?.kind === 'retry') return 'retry'
  return 'snoozed'
}
