import { PgqValidationError } from '../errors.js'

/** A value JSON carries faithfully. Payloads and results must be of this type. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue | undefined }

/** Deepest nesting of arrays and objects a payload or result may have (the top level is depth 1). */
export const MAX_JSON_DEPTH = 256

/** Default maximum size of a payload, in bytes of its JSON text (256 KiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024

/**
 * Serializes a payload (or a result) to JSON text after checking that JSON carries it faithfully,
 * and that it is at most `maxBytes` long. Throws {@link PgqValidationError} naming the path of the
 * first bad value. The rules:
 *
 * - plain objects, arrays, strings, finite numbers, booleans and `null` only;
 * - rejected: `undefined` at the top level or in an array, `BigInt`, functions, symbols, `NaN`,
 *   `Infinity`, circular references, class instances (`Date`, `Map`, `Set`, `Buffer`, …);
 *   convert a `Date` with `toISOString()` and a `BigInt` with `String()` yourself;
 * - strings and keys must not contain NUL (`\u0000`) or lone UTF-16 surrogates (PostgreSQL's
 *   `jsonb` refuses them);
 * - object properties whose value is `undefined` are left out, as `JSON.stringify` does;
 * - arrays and objects nest at most {@link MAX_JSON_DEPTH} (256) levels deep.
 *
 * ```ts
 * serializeJson({ to: 'a@example.com' }, 'payload', 1024) // '{"to":"a@example.com"}'
 * serializeJson({ at: new Date() }, 'payload', 1024) // throws: payload.at
 * ```
 */
export function serializeJson(value: unknown, path: string, maxBytes: number): string {
  if (value === undefined) throw new PgqValidationError(path, 'must be a JSON value, got undefined', value)
  checkValue(value, path, [])
  const text = JSON.stringify(value)
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > maxBytes) {
    throw new PgqValidationError(
      path,
      `must be at most ${maxBytes} bytes of JSON, got ${bytes}`,
      `${bytes} bytes`,
    )
  }
  return text
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function checkString(value: string, path: string): void {
  if (value.includes('\u0000'))
    throw new PgqValidationError(path, 'strings must not contain NUL (\\u0000)', value)
  if (LONE_SURROGATE.test(value)) {
    throw new PgqValidationError(path, 'strings must not contain lone UTF-16 surrogates', value)
  }
}

function checkValue(value: unknown, path: string, ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
      checkString(value, path)
      return
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value))
        throw new PgqValidationError(path, 'numbers must be finite (no NaN or Infinity)', value)
      return
    case 'bigint':
      throw new PgqValidationError(path, 'BigInt is not JSON: convert it with String(value)', value)
    case 'undefined':
      throw new PgqValidationError(path, 'undefined is not JSON (in an array it would become null)', value)
    case 'function':
    case 'symbol':
      throw new PgqValidationError(path, `a ${typeof value} is not JSON`, value)
  }
  if (value === null) return
  const object = value as object
  if (ancestors.includes(object)) throw new PgqValidationError(path, 'circular reference', value)
  if (ancestors.length >= MAX_JSON_DEPTH) {
    throw new PgqValidationError(
      path.length > 120 ? `${path.slice(0, 120)}…` : path,
      `arrays and objects must nest at most ${MAX_JSON_DEPTH} levels deep`,
      value,
    )
  }
  ancestors.push(object)
  if (Array.isArray(object)) {
    for (const [index, item] of object.entries()) checkValue(item, `${path}[${index}]`, ancestors)
  } else {
    const proto = Object.getPrototypeOf(object)
    if (proto !== Object.prototype && proto !== null) {
      const rule =
        object instanceof Date
          ? 'a Date is not JSON: pass date.toISOString() and parse it in the handler'
          : 'only plain objects and arrays are JSON (got a class instance)'
      throw new PgqValidationError(path, rule, value)
    }
    for (const [key, item] of Object.entries(object)) {
      const itemPath = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
      checkString(key, itemPath)
      if (item !== undefined) checkValue(item, itemPath, ancestors)
    }
  }
  ancestors.pop()
}
