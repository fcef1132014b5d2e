// Small formatting helpers shared by the pages (all return plain text; the templates escape it).

/** `2026-12-02 14:03:05 UTC`, or `—`. */
export function timestamp(date: Date | null | undefined): string {
  if (!date) return '—'
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/** `850 ms`, `12.3 s`, `4 min 10 s`, `3 h 2 min`, `2 d 5 h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—'
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.floor(ms / 1000)
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`
}

/** Time since `date` relative to `now`: `12 s ago`. */
export function ago(date: Date | null | undefined, now: Date): string {
  if (!date) return '—'
  return `${duration(Math.max(0, now.getTime() - date.getTime()))} ago`
}

/** A number with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US')
}

/**
 * Percent (0–100) of a stored progress report (`{ value, meta }`, as `ctx.progress(value, meta)`
 * writes it; a bare number too); null when it has no numeric value.
 */
export function progressPercent(progress: unknown): number | null {
  const value =
    typeof progress === 'number'
      ? progress
      : progress !== null && typeof progress === 'object'
        ? (progress as { value?: unknown }).value
        : undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) return null
  return Math.max(0, Math.min(100, value))
}

/** At most `max` characters of one line. */
export function oneLine(text: string | null | undefined, max = 80): string {
  if (!text) return ''
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
