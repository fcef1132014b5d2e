import { PgqValidationError } from '../errors.js'
import { PermanentError } from './job-outcome.js'

/**
 * The part of the Standard Schema interface (https://standardschema.dev) pgq uses: zod, valibot
 * and arktype schemas all carry it.
 *
 * ```ts
 * const positive: StandardSchemaLike<number> = {
 *   '~standard': { validate: (v) => (typeof v === 'number' && v > 0 ? { value: v } : { issues: [{ message: 'not positive' }] }) },
 * }
 * ```
 */
export interface StandardSchemaLike<P> {
  readonly '~standard': {
    readonly validate: (value: unknown) => StandardResult<P> | Promise<StandardResult<P>>
  }
}

/** What a Standard Schema `validate` returns: the value, or issues. */
export type StandardResult<P> =
  | { readonly value: P; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>
      }>
    }

/**
 * A task's payload check: a function returning the (possibly transformed) payload or throwing,
 * or a Standard Schema object.
 *
 * ```ts
 * const check: PayloadValidator<{ to: string }> = (p) => {
 *   if (typeof (p as { to?: unknown })?.to !== 'string') throw new Error('to must be a string')
 *   return p as { to: string }
 * }
 * ```
 */
export type PayloadValidator<P> = ((payload: unknown) => P) | StandardSchemaLike<P>

/** @internal */
export function assertPayloadValidator(value: unknown, path: string): void {
  if (typeof value === 'function') return
  const standard = (value as StandardSchemaLike<unknown> | null)?.['~standard']
  if (typeof standard?.validate === 'function') return
  throw new PgqValidationError(path, "must be a function or a Standard Schema ('~standard'.validate)", value)
}

/** @internal A task's `schema` or `resultSchema` must be a Standard Schema. */
export function assertStandardSchema(value: unknown, path: string): void {
  const standard = (value as StandardSchemaLike<unknown> | null)?.['~standard']
  if (typeof standard?.validate === 'function') return
  throw new PgqValidationError(
    path,
    "must be a Standard Schema (zod, valibot, arktype: '~standard'.validate)",
    value,
  )
}

/** @internal How a task validates its payloads: its `schema` or its `parsePayload`, and what to call it. */
export function payloadValidatorOf(task: {
  readonly schema?: StandardSchemaLike<unknown> | undefined
  readonly parsePayload?: PayloadValidator<unknown> | undefined
}): { readonly validator: PayloadValidator<unknown>; readonly label: string } | undefined {
  if (task.schema) return { validator: task.schema, label: 'schema' }
  if (task.parsePayload) return { validator: task.parsePayload, label: 'parsePayload' }
  return undefined
}

/**
 * @internal Runs a task's `resultSchema` on a handler's return value: the schema's output, or a
 * {@link PermanentError} (a handler returning the wrong shape is a bug a retry will not fix).
 */
export async function parseResultForRun(
  schema: StandardSchemaLike<unknown>,
  value: unknown,
): Promise<unknown> {
  try {
    return await runValidator(schema, value)
  } catch (error) {
    throw new PermanentError(`result rejected by the task's resultSchema: ${messageOf(error)}`, {
      cause: error,
    })
  }
}

/**
 * @internal Runs a task's validator at enqueue: synchronously, a failure (or an asynchronous
 * validator) throws {@link PgqValidationError} at `path`. The stored payload is the one given.
 */
export function checkPayloadAtEnqueue(
  validator: PayloadValidator<unknown>,
  payload: unknown,
  path: string,
  label = 'parsePayload',
): void {
  let outcome: unknown
  try {
    outcome = runValidator(validator, payload)
  } catch (error) {
    throw new PgqValidationError(path, `rejected by the task's ${label}: ${messageOf(error)}`)
  }
  if (isThenable(outcome)) {
    // a rejection of the ignored promise must not surface as an unhandled rejection
    ;(outcome as Promise<unknown>).then(undefined, () => {})
    throw new PgqValidationError(path, `the task's ${label} must be synchronous to run at enqueue`)
  }
}

/**
 * @internal Runs a task's validator before its handler: returns the parsed payload, or throws a
 * {@link PermanentError} (the job fails at once, without retry).
 */
export async function parsePayloadForRun<P>(
  validator: PayloadValidator<P>,
  payload: unknown,
  label = 'parsePayload',
): Promise<P> {
  try {
    return await runValidator(validator, payload)
  } catch (error) {
    throw new PermanentError(`payload rejected by the task's ${label}: ${messageOf(error)}`, {
      cause: error,
    })
  }
}

function runValidator<P>(validator: PayloadValidator<P>, payload: unknown): P | Promise<P> {
  // the Standard Schema first: an arktype type is also callable, and returns its errors
  const standard = (validator as Partial<StandardSchemaLike<P>>)['~standard']
  if (typeof standard?.validate !== 'function') return (validator as (payload: unknown) => P)(payload)
  const result = standard.validate(payload)
  return isThenable(result)
    ? (result as Promise<StandardResult<P>>).then(unwrap)
    : unwrap(result as StandardResult<P>)
}

function unwrap<P>(result: StandardResult<P>): P {
  if (result.issues) {
    const text = result.issues
      .slice(0, 5)
      .map((issue) => {
        const where = (issue.path ?? []).map((k) => String(typeof k === 'object' ? k.key : k)).join('.')
        return where ? `${where}: ${issue.message}` : issue.message
      })
      .join('; ')
    throw new Error(text || 'invalid')
  }
  return result.value
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.length > 500 ? `${message.slice(0, 500)}…` : message
}
