// `--log-level` and `--log-format` of the commands that log (work, dev, schedule run, dashboard).

import { createJsonLogger, createLineLogger, type Logger, type LogLevel } from '@pgq/core'
import type { Command } from 'commander'
import { CliExit, EXIT_CODES, useJsonFatalLines } from './lifetime.js'

/** The logging options every long-running command has. */
export interface LogOptions {
  readonly logLevel: LogLevel
  readonly logFormat: string
}

/** Adds `--log-level` and `--log-format` to a command. */
export function withLogOptions(command: Command): Command {
  return command
    .option('--log-level <level>', 'debug | info | warn | error | silent', 'info')
    .option(
      '--log-format <format>',
      'text (time level message key=value) | json (one JSON object per line, pino format)',
      process.env.PGQ_LOG_FORMAT ?? 'text',
    )
}

/**
 * The command's logger on stderr; with `json`, its fatal last line is JSON too.
 *
 * ```ts
 * const logger = createCliLogger({ logLevel: 'info', logFormat: 'json' })
 * ```
 */
export function createCliLogger(options: LogOptions): Logger {
  if (options.logFormat === 'json') {
    useJsonFatalLines()
    return createJsonLogger(options.logLevel)
  }
  if (options.logFormat === 'text') return createLineLogger(options.logLevel)
  throw new CliExit(EXIT_CODES.usage, `--log-format must be text or json, got "${options.logFormat}"`)
}
