/** Structured fields of a log line. pgq never puts payloads or results in them. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>

/** Where pgq writes its log lines. `console`-like loggers and pino fit via a tiny adapter. */
export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** A logger that drops everything (the library default: pgq is quiet unless you give it a logger). */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
})

/**
 * One line per event, `time level message key=value …`, to stderr; used by the CLI.
 *
 * ```ts
 * const logger = createLineLogger('info')
 * logger.info('job succeeded', { job: '42', task: 'send_email', ms: 12 })
 * ```
 */
export function createLineLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const min = ORDER[level]
  const emit = (lvl: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return
    let line = `${new Date().toISOString()} ${lvl.padEnd(5)} ${message}`
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue
        const text = String(value)
        line += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`
      }
    }
    write(`${line}\n`)
  }
  return Object.freeze({
    debug: (m: string, f?: LogFields) => emit('debug', m, f),
    info: (m: string, f?: LogFields) => emit('info', m, f),
    warn: (m: string, f?: LogFields) => emit('warn', m, f),
    error: (m: string, f?: LogFields) => emit('error', m, f),
  })
}
