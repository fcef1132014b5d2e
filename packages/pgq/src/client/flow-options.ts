import { PgqValidationError } from '../errors.js'
import type { EnqueueManyJob } from '../sql/job-queries.js'
import { assertKey, keyFromPayload } from '../task/concurrency-key.js'
import type { AnyTaskDefinition } from '../task/task.js'
import { assertNumber } from '../util/validate.js'

/** The enqueue options of flow control (docs/flow-control.md); part of `EnqueueOptions`. */
export interface FlowEnqueueOptions {
  /**
   * The job's concurrency key (e.g. a customer id): with a per-key limit on its queue
   * (`pgq.queues.set(queue, { keyConcurrency })`), at most that many jobs of one key run at once.
   * Default: taken from the payload by the task's `concurrencyKey`, else none.
   */
  readonly concurrencyKey?: string
  /**
   * The job must start within this many ms of becoming due (its `runAt`/`delayMs`); if no worker
   * started it by then it ends `expired` and never runs. A retry due past the deadline expires too.
   * Default: the task's `expireInMs`, else none.
   */
  readonly expireInMs?: number
  /** The job must start by this instant (instead of `expireInMs`). */
  readonly expiresAt?: Date
  /**
   * At most one job of this task (`true`), or of this task and key (a string), waiting or running:
   * a second enqueue returns the live job with outcome `deduplicated`. A dedup key underneath, so
   * not combined with `dedupKey`.
   */
  readonly singleton?: boolean | string
}

/** Longest expiry: about 24.8 days (a 32-bit millisecond count), as other windows. */
const MAX_EXPIRE_MS = 2 ** 31 - 1
/** The dedup key prefix of singletons. */
export const SINGLETON_KEY = 'pgq:singleton'

type Fields = { -readonly [K in keyof EnqueueManyJob]: EnqueueManyJob[K] }

/** @internal Validates and encodes the flow-control options of one job into its `enqueue_many` fields. */
export function encodeFlowOptions(
  options: FlowEnqueueOptions & { readonly dedupKey?: string },
  definition: AnyTaskDefinition | undefined,
  payload: unknown,
  spec: Fields,
  path: string,
): void {
  if (options.concurrencyKey !== undefined) {
    spec.concurrency_key = assertKey(options.concurrencyKey, `${path}options.concurrencyKey`)
  } else if (definition?.concurrencyKey !== undefined) {
    const key = keyFromPayload(definition.concurrencyKey, payload, `${path}task.concurrencyKey`)
    if (key !== undefined) spec.concurrency_key = key
  }
  if (options.expireInMs !== undefined && options.expiresAt !== undefined) {
    throw new PgqValidationError(`${path}options.expiresAt`, 'give expireInMs or expiresAt, not both')
  }
  if (options.expiresAt !== undefined) {
    if (!(options.expiresAt instanceof Date) || Number.isNaN(options.expiresAt.getTime())) {
      throw new PgqValidationError(`${path}options.expiresAt`, 'must be a valid Date', options.expiresAt)
    }
    spec.expires_at = options.expiresAt.toISOString()
  } else {
    const expireInMs = options.expireInMs ?? definition?.expireInMs
    if (expireInMs !== undefined) {
      spec.expire_in_ms = assertNumber(
        expireInMs,
        `${path}options.expireInMs`,
        1,
        MAX_EXPIRE_MS,
        `must be a number of ms from 1 to ${MAX_EXPIRE_MS}`,
      )
    }
  }
  const { singleton } = options
  if (singleton === undefined || singleton === false) return
  if (options.dedupKey !== undefined) {
    throw new PgqValidationError(
      `${path}options.singleton`,
      'is a dedup key: give singleton or dedupKey, not both',
    )
  }
  if (singleton === true) spec.dedup_key = SINGLETON_KEY
  else if (typeof singleton === 'string' && singleton.length >= 1 && singleton.length <= 256) {
    spec.dedup_key = `${SINGLETON_KEY}:${singleton}`
  } else {
    throw new PgqValidationError(
      `${path}options.singleton`,
      'must be true or a key of 1-256 characters',
      singleton,
    )
  }
}
