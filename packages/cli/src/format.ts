// Terminal formatting shared by the inspection commands: aligned tables, durations, timestamps.
import { InvalidArgumentError } from 'commander'

/** Left-aligned columns separated by two spaces; `null`/`undefined` cells print as `-`. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows.map((row) => row.map(cell))]
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] as string).length)))
  return cells
    .map((row) =>
      row
        .map((value, i) => (i === row.length - 1 ? value : (value as string).padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-'
  if (value instanceof Date) return timestamp(value)
  return String(value)
}

/** `2026-11-22 02:50:54Z`: UTC, to the second. */
export function timestamp(date: Date | null | undefined): string {
  if (!date) return '-'
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`
}

/** `850ms`, `12s`, `4m05s`, `3h02m`, `2d04h`. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`
  const s = Math.floor(ms / 1_000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`
}

/** One line of at most `max` characters (newlines folded), for table cells. */
export function oneLine(text: string | null | undefined, max = 60): string {
  if (!text) return '-'
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** Compact JSON for a table cell or a detail line. */
export function json(value: unknown, max = 200): string {
  if (value === null || value === undefined) return '-'
  return oneLine(JSON.stringify(value), max)
}

/** A commander parser for integer options, naming the option in its error. */
export function intOption(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
    }
    return n
  }
}

/** A commander parser for comma-separated lists (`--state failed,cancelled`). */
export function listOption(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ]
}

/** "1 job", "3 jobs". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * A commander parser for durations with a unit (`500ms`, `60s`, `5m`, `2h`, `1d`), returning ms
 * within `[minMs, maxMs]`, naming the rule in its error.
 */
export function durationOption(minMs: number, maxMs: number): (value: string) => number {
  return (value: string) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim())
    const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : Number.NaN
    if (!(ms >= minMs && ms <= maxMs)) {
      throw new InvalidArgumentError(
        `must be a duration like 500ms, 60s, 5m, 2h or 1d from ${duration(minMs)} to ${duration(maxMs)}, got ${JSON.stringify(value)}`,
      )
    }
    return Math.round(ms)
  }
}
