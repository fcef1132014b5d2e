import type pg from 'pg'
import type { SchemaNames } from '../db/schema-names.js'
import { PgqValidationError } from '../errors.js'
import { recordSleep, saveStep } from '../sql/step-queries.js'
import { serializeJson } from '../task/payload.js'
import {
  assertStepName,
  duplicateStep,
  parseSleepDuration,
  RESERVED_STEP_PREFIX,
  SleepInterrupt,
  StepError,
} from '../task/step-errors.js'
import { AttemptEndedError } from './isolation/errors.js'
import type { RunningJob } from './running-job.js'

/**
 * @internal One attempt's durable steps: `ctx.step` returns a result stored by an earlier run or
 * runs the function and stores its result (one fenced write), `ctx.sleep` records its wake-up time
 * and ends the attempt. A job that uses neither costs nothing: the stored steps come with the claim.
 */
export class StepJournal {
  readonly #pool: pg.Pool
  readonly #names: SchemaNames
  readonly #job: RunningJob
  readonly #maxBytes: number
  /** Throws AttemptEndedError once the attempt is over for pgq. */
  readonly #assertOpen: (action: string) => void
  readonly #used = new Set<string>()
  #sleeps = 0
  #sleepMs: number | undefined

  constructor(
    pool: pg.Pool,
    names: SchemaNames,
    job: RunningJob,
    maxBytes: number,
    assertOpen: (action: string) => void,
  ) {
    this.#pool = pool
    this.#names = names
    this.#job = job
    this.#maxBytes = maxBytes
    this.#assertOpen = assertOpen
  }

  /** Set once `ctx.sleep` ended the attempt: the job runs again after this many ms. */
  get sleepMs(): number | undefined {
    return this.#sleepMs
  }

  async step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const action = `ctx.step(${JSON.stringify(String(name))})`
    this.#assertOpen(action)
    assertStepName(name, this.#job.claim.id)
    if (typeof fn !== 'function') throw new PgqValidationError(`${action}: fn`, 'must be a function', fn)
    if (this.#used.has(name)) throw duplicateStep(name, this.#job.claim.id)
    this.#used.add(name)
    const steps = this.#job.claim.steps
    if (steps && Object.hasOwn(steps, name)) return (steps[name] as { result?: unknown }).result as T

    const value = await fn()
    this.#assertOpen(action)
    let result: string | undefined
    try {
      if (value !== undefined) result = serializeJson(value, `${action} result`, this.#maxBytes)
    } catch (error) {
      throw new StepError(
        'PGQ_STEP_RESULT',
        name,
        (error as Error).message,
        { jobId: this.#job.claim.id },
        { cause: error },
      )
    }
    const { id, leaseToken, attempt } = this.#job.claim
    const entry = result === undefined ? '{}' : `{"result":${result}}`
    if (!(await saveStep(this.#pool, this.#names, { id, leaseToken, name, entry }))) {
      throw new AttemptEndedError(id, attempt, `${action} (the lease was lost)`)
    }
    // what a later run would get back: the stored JSON, not the live object
    return (result === undefined ? undefined : JSON.parse(result)) as T
  }

  async sleep(duration: number | string): Promise<void> {
    this.#assertOpen('ctx.sleep()')
    const delayMs = parseSleepDuration(duration)
    if (delayMs === undefined) {
      throw new PgqValidationError(
        'ctx.sleep(duration)',
        'must be ms (a number ≥ 0) or a string like "500ms", "2s", "5m", "1h", "7d", at most 365 days',
        duration,
      )
    }
    const key = `${RESERVED_STEP_PREFIX}sleep:${++this.#sleeps}`
    const { id, leaseToken, attempt } = this.#job.claim
    const remaining = await recordSleep(this.#pool, this.#names, { id, leaseToken, key, delayMs })
    if (remaining === null) throw new AttemptEndedError(id, attempt, 'ctx.sleep() (the lease was lost)')
    if (remaining <= 0) return // slept already (an earlier run recorded this sleep)
    this.#assertOpen('ctx.sleep()')
    this.#sleepMs = Math.ceil(remaining)
    throw new SleepInterrupt(id, this.#sleepMs)
  }
}
