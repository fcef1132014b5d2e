import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { JobTransactionError } from '../errors.js'
import { finalizeJobs } from '../sql/worker-queries.js'
import { PermanentError } from '../task/job-outcome.js'
import { serializeJson } from '../task/payload.js'
import { toFinalizeItem } from './job-completer.js'
import type { RunningJob } from './running-job.js'

/** @internal What one attempt's transaction needs from the executor. */
export interface JobTransactionOptions {
  readonly pool: pg.Pool
  readonly names: SchemaNames
  readonly job: RunningJob
  readonly maxErrorsKept: number
  readonly maxPayloadBytes: number
  /** Retention of the succeeded row (null: forever, 0: delete at once). */
  readonly retentionMs: number | null
  /** The task's `resultSchema` check: the result to store, or a thrown PermanentError. */
  readonly parseResult?: ((value: unknown) => Promise<unknown>) | undefined
  /** Throws once the attempt is over for pgq (lease lost, shutdown, time limit). */
  readonly assertOpen: (action: string) => void
}

/**
 * @internal `ctx.transaction(fn)`: runs `fn` on one connection inside `BEGIN`, then writes the
 * job's success (its result: what `fn` returned) in the same transaction with the fenced finalize
 * statement, and commits. When the finalize matches no row (the lease token changed: the lease was
 * lost) or `fn` throws, everything is rolled back. After a commit the job is marked committed, so
 * the completer writes nothing for it.
 *
 * ```ts
 * const tx = new JobTransaction({ pool, names, job, maxErrorsKept: 20, maxPayloadBytes, retentionMs: null, assertOpen })
 * const result = await tx.run(async (client) => client.query('INSERT INTO orders …'))
 * ```
 */
export class JobTransaction {
  readonly #options: JobTransactionOptions
  #used = false

  constructor(options: JobTransactionOptions) {
    this.#options = Object.freeze({ ...options })
  }

  async run<T>(fn: (tx: pg.PoolClient) => Promise<T> | T): Promise<T> {
    const { pool, names, job, assertOpen } = this.#options
    const { id, attempt } = job.claim
    if (this.#used) throw new JobTransactionError(id, attempt, 'already-completed')
    assertOpen('ctx.transaction()')
    this.#used = true
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
    } catch (error) {
      client.release(error as Error)
      throw error
    }
    try {
      const value = await fn(client)
      const parse = this.#options.parseResult
      const result = this.#serialize(parse ? await parse(value) : value)
      if (job.dropped) throw new JobTransactionError(id, attempt, 'lease-lost')
      const item = toFinalizeItem(job.claim, {
        kind: 'succeeded',
        result,
        retentionMs: this.#options.retentionMs,
        durationMs: 0,
      })
      const written = await finalizeJobs(client, names, [item], this.#options.maxErrorsKept, false, true) // the app's writes keep their durability
      if (written.get(id) !== 'succeeded') throw new JobTransactionError(id, attempt, 'lease-lost')
      await client.query('COMMIT')
      job.markCommitted(result)
      return value
    } catch (error) {
      // a failed ROLLBACK (connection gone) keeps the client out of the pool
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e
      })
      throw error
    } finally {
      client.release(broken)
    }
  }

  #serialize(value: unknown): string | null {
    if (value === undefined) return null
    try {
      return serializeJson(value, 'result', this.#options.maxPayloadBytes)
    } catch (error) {
      throw new PermanentError(`the transaction's result was rejected: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }
}
