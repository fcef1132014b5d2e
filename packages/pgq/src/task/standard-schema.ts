/**
 * The Standard Schema interface (https://standardschema.dev), version 1, written out here so that
 * pgq depends on no schema library: zod (3.24+), valibot (1.0+), arktype (2.0+) and others
 * implement it. A task's `schema` and `resultSchema` are such objects.
 *
 * ```ts
 * const positive: StandardSchemaV1<number> = {
 *   '~standard': {
 *     version: 1,
 *     vendor: 'example',
 *     validate: (v) => (typeof v === 'number' && v > 0 ? { value: v } : { issues: [{ message: 'not positive' }] }),
 *   },
 * }
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaProps<Input, Output>
}

/**
 * The `~standard` property of a {@link StandardSchemaV1}.
 *
 * ```ts
 * const props: StandardSchemaProps<string> = z.string()['~standard']
 * ```
 */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  readonly version: 1
  /** The library that made the schema (`zod`, `valibot`, `arktype`, …). */
  readonly vendor: string
  readonly validate: (value: unknown) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>
  /** Type-level only: what the schema accepts and what it produces. */
  readonly types?: { readonly input: Input; readonly output: Output } | undefined
}

/**
 * What `validate` returns: the (possibly transformed) value, or the issues found.
 *
 * ```ts
 * const failed: StandardSchemaResult<number> = { issues: [{ message: 'expected a number', path: ['cents'] }] }
 * ```
 */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> }

/**
 * One problem a schema found, and where (`path`: keys from the top, possibly as `{ key }`).
 *
 * ```ts
 * const issue: StandardSchemaIssue = { message: 'too small', path: ['items', 0, { key: 'qty' }] }
 * ```
 */
export interface StandardSchemaIssue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
}

/**
 * What a schema accepts: the payload type `enqueue` takes for a task declared with `schema`.
 *
 * ```ts
 * type In = InferSchemaInput<typeof orderSchema> // e.g. { orderId: string; rush?: boolean }
 * ```
 */
export type InferSchemaInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : unknown

/**
 * What a schema produces: the payload type the handler receives (after defaults and transforms).
 *
 * ```ts
 * type Out = InferSchemaOutput<typeof orderSchema> // e.g. { orderId: string; rush: boolean }
 * ```
 */
export type InferSchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : unknown
