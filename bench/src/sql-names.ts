/** Quotes a benchmark-generated identifier after checking it is plain lower-case ASCII. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unexpected identifier: ${name}`)
  return `"${name}"`
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Epoch milliseconds with sub-millisecond precision (comparable across processes on one host). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now()
}
