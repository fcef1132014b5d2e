const UNITS: Readonly<Record<string, number>> = Object.freeze({
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
})

/**
 * @internal A duration written with its unit, in whole ms (rounded up): `'500ms'`, `'2s'`,
 * `'1.5m'`, `'2h'`, `'7d'`. Undefined for anything else, a bare number included: callers decide
 * what a number means and what range they accept.
 *
 * ```ts
 * parseDuration('1.5m') // 90_000
 * parseDuration('2w') // undefined
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text)
  if (!match) return undefined
  const ms = Math.ceil(Number(match[1]) * UNITS[match[2]!]!)
  return Number.isSafeInteger(ms) ? ms : undefined
}
