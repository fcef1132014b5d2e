import type { RetentionOptions } from '@pgq/core'
import { FINAL_STATES, parseDuration } from '@pgq/core/internal'
import { CliExit, EXIT_CODES } from './lifetime.js'

/** The states a retention applies to: every final state. */
const STATES: readonly string[] = FINAL_STATES

/**
 * Parses `pgq work --retention`: `state=duration` pairs separated by commas, where a duration is
 * milliseconds (`500`) or a number with a unit (`500ms`, `30s`, `1.5m`, `1h`, `14d`), `0` deletes
 * the job with its outcome, and `forever` keeps it. States left out keep the worker's default.
 * Anything else is a usage error (exit 64) naming the part it could not read.
 *
 * ```ts
 * parseRetention('succeeded=1h,failed=30d,cancelled=forever')
 * // { succeeded: 3_600_000, failed: 2_592_000_000, cancelled: null }
 * ```
 */
export function parseRetention(spec: string): RetentionOptions {
  const retention: { -readonly [K in keyof RetentionOptions]: number | null } = {}
  for (const part of spec.split(',').map((p) => p.trim())) {
    const [state, value, extra] = part.split('=').map((s) => s.trim())
    if (state === undefined || !STATES.includes(state) || value === undefined || extra !== undefined) {
      throw usage(`"${part}" is not state=duration (states: ${STATES.join(', ')})`)
    }
    const key = state as keyof RetentionOptions
    if (key in retention) throw usage(`${key} is given twice`)
    retention[key] = retentionMs(value, key)
  }
  return retention
}

function retentionMs(value: string, state: string): number | null {
  if (value === 'forever') return null
  const ms = /^\d+$/.test(value) ? Number(value) : parseDuration(value)
  if (ms === undefined || !Number.isSafeInteger(ms)) {
    throw usage(`${state}=${value}: expected milliseconds, a number with ms, s, m, h or d, or forever`)
  }
  return ms
}

function usage(message: string): CliExit {
  return new CliExit(EXIT_CODES.usage, `--retention: ${message}`)
}
