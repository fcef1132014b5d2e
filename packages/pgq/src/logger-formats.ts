// pgq's Logger for JSON log pipelines: a JSON-lines logger in pino's format, and adapters for
// loggers that take (fields, message) such as pino and bunyan.
import { hostname } from 'node:os'
import type { LogFields, Logger, LogLevel } from './logger.js'

/** pino's numeric levels; the JSON lines carry them so pino's tools (pino-pretty) read pgq's logs. */
export const PINO_LEVELS = Object.freeze({ debug: 20, info: 30, warn: 40, error: 50, fatal: 60 })

const ORDER: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 }
/** Keys of a JSON line that fields never overwrite. */
const RESERVED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg'])

/**
 * One JSON object per line, in pino's format: `level` (20 debug, 30 info, 40 warn, 50 error),
 * `time` (ms since the epoch), `pid`, `hostname`, `name: "pgq"`, `msg`, then the event's fields
 * (`job`, `task`, `queue`, `worker`, `attempt`, `ms`, `error`, …). A field named like one of the
 * first six is written with a `field_` prefix. Payloads and results are never among the fields.
 *
 * ```ts
 * const logger = createJsonLogger('info')
 * logger.info('job succeeded', { job: '42', task: 'send_email', ms: 12 })
 * // {"level":30,"time":1767225600000,"pid":7,"hostname":"web-1","name":"pgq","msg":"job succeeded","job":"42","task":"send_email","ms":12}
 * ```
 */
export function createJsonLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const min = ORDER[level]
  const host = hostname()
  const emit = (lvl: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return
    const line: Record<string, unknown> = {
      level: PINO_LEVELS[lvl],
      time: Date.now(),
      pid: process.pid,
      hostname: host,
      name: 'pgq',
      msg: message,
    }
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value !== undefined) line[RESERVED.has(key) ? `field_${key}` : key] = value
    }
    write(`${JSON.stringify(line)}\n`)
  }
  return Object.freeze({
    debug: (m: string, f?: LogFields) => emit('debug', m, f),
    info: (m: string, f?: LogFields) => emit('info', m, f),
    warn: (m: string, f?: LogFields) => emit('warn', m, f),
    error: (m: string, f?: LogFields) => emit('error', m, f),
  })
}

/** A logger whose methods take the fields first and the message second: pino, bunyan, … */
export interface FieldsFirstLogger {
  debug(fields: object, message: string): void
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

/**
 * Adapts a pino (or bunyan) logger to pgq's {@link Logger}: each line goes out as
 * `logger.info(fields, message)`, so the fields become properties of pino's JSON object. Pino
 * loggers given directly as a `logger` option are wrapped this way automatically.
 *
 * ```ts
 * import pino from 'pino'
 * const worker = pgq.createWorker({ tasks, logger: fromPino(pino().child({ component: 'pgq' })) })
 * ```
 */
export function fromPino(logger: FieldsFirstLogger): Logger {
  return Object.freeze({
    debug: (m: string, f?: LogFields) => logger.debug({ ...f }, m),
    info: (m: string, f?: LogFields) => logger.info({ ...f }, m),
    warn: (m: string, f?: LogFields) => logger.warn({ ...f }, m),
    error: (m: string, f?: LogFields) => logger.error({ ...f }, m),
  })
}

/** True for a pino logger (its `levels.values` map and `child()`), which takes fields first. */
function isPino(value: unknown): value is FieldsFirstLogger {
  const v = value as { child?: unknown; levels?: { values?: unknown } } | undefined
  return typeof v?.child === 'function' && typeof v.levels?.values === 'object' && v.levels.values !== null
}

/**
 * @internal The `logger` option as pgq calls it: a pino logger is wrapped with {@link fromPino},
 * anything else is used as it is.
 */
export function toLogger(value: Logger): Logger {
  return isPino(value) ? fromPino(value) : value
}
