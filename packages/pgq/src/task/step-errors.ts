import { PgqError } from '../errors.js'
import { parseDuration } from '../util/duration.js'

/** Why a durable step was refused; see {@link StepError}. */
export type StepErrorCode =
  /** The step name is not a non-empty string of at most 200 characters, or starts with `pgq:`. */
  | 'PGQ_STEP_NAME'
  /** The same step name was used twice in one run of the handler. */
  | 'PGQ_STEP_DUPLICATE'
  /** The step's result cannot be stored as JSON (a Date, a class, BigInt, NaN, too large…). */
  | 'PGQ_STEP_RESULT'

/**
 * A durable step (`ctx.step`, `ctx.sleep`) was used wrongly. Nothing was stored, and the job fails
 * for good without retrying (a retry would make the same mistake): fix the handler.
 *
 * ```ts
 * worker.on('job:failed', ({ error }) => {
 *   if (error instanceof StepError && error.code === 'PGQ_STEP_DUPLICATE') console.error(error.step)
 * })
 * ```
 */
export class StepError extends PgqError {
  declare readonly code: StepErrorCode
  /** The step's name (or what was passed as one). */
  readonly step: string

  constructor(
    code: StepErrorCode,
    step: string,
    message: string,
    context: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, { step, ...context }, options)
    this.step = step
  }
}

/** Sleeps are kept in `jobs.steps` as `pgq:sleep:1`, `pgq:sleep:2`…: step names may not start with `pgq:`. */
export const RESERVED_STEP_PREFIX = 'pgq:'
const MAX_NAME_LENGTH = 200
/** What a jsonb key cannot hold besides NUL: a lone UTF-16 surrogate. */
const UNSTORABLE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** @internal Throws a `PGQ_STEP_NAME` {@link StepError} unless `name` can name a step. */
export function assertStepName(name: unknown, jobId: string): asserts name is string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    name.startsWith(RESERVED_STEP_PREFIX) ||
    name.includes('\u0000') ||
    UNSTORABLE.test(name)
  ) {
    throw new StepError(
      'PGQ_STEP_NAME',
      String(name),
      `ctx.step(name): the name must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, not starting with "${RESERVED_STEP_PREFIX}"`,
      { jobId },
    )
  }
}

/** @internal The error of a step name used twice in one run. */
export function duplicateStep(name: string, jobId: string): StepError {
  return new StepError(
    'PGQ_STEP_DUPLICATE',
    name,
    `ctx.step(${JSON.stringify(name)}) was called twice in one run of job ${jobId}: step names must be unique`,
    { jobId },
  )
}

/** @internal True for an error a retry cannot fix: a {@link StepError}, also once rebuilt from a thread or process. */
export function isStepError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof StepError || (typeof code === 'string' && code.startsWith('PGQ_STEP_'))
}

/**
 * Thrown by `await ctx.sleep(…)` when the job must wait: the attempt ends there, the job's slot is
 * freed and the job runs again once the delay has passed, without spending an attempt. Let it
 * propagate (a `catch` that swallows it does not stop the sleep: the attempt still ends as a sleep,
 * and later `ctx.step` calls of this run are refused).
 *
 * ```ts
 * try {
 *   await ctx.sleep('1h')
 * } catch (error) {
 *   if (error instanceof SleepInterrupt) throw error
 *   // …
 * }
 * ```
 */
export class SleepInterrupt extends PgqError {
  /** How long the job sleeps from now, in ms. */
  readonly delayMs: number

  constructor(jobId: string, delayMs: number) {
    super(
      'PGQ_SLEEP',
      `job ${jobId} sleeps for ${delayMs} ms: this attempt ends here and the job resumes later`,
      {
        jobId,
        delayMs,
      },
    )
    this.delayMs = delayMs
  }
}

/** The longest sleep: 365 days. */
export const MAX_SLEEP_MS = 365 * 86_400_000

/**
 * @internal A sleep's duration in ms: a number of ms, or a string such as `'500ms'`, `'2s'`,
 * `'1.5m'`, `'2h'`, `'7d'`. Returns undefined when it is neither (the caller throws).
 */
export function parseSleepDuration(duration: unknown): number | undefined {
  let ms: number | undefined
  if (typeof duration === 'number') ms = duration
  else if (typeof duration === 'string') ms = parseDuration(duration)
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) return undefined
  return Math.ceil(ms)
}
