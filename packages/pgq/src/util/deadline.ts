/**
 * @internal Waits for `work` for at most `ms`: resolves `true` when it settled in time (its
 * rejection is rethrown), `false` when the time ran out first. The work itself is not cancelled; a
 * shutdown uses this so that a database behind a network black hole (a query that never answers)
 * cannot hold `stop()` forever. The timer does not keep the process alive.
 *
 * ```ts
 * const inTime = await settleWithin(markWorkerStopped(pool, names, id), 5_000)
 * if (!inTime) logger.warn('deregistering timed out')
 * ```
 */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
    timer.unref()
  })
  try {
    return await Promise.race([work.then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}
