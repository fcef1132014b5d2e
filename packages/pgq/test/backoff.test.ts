import { describe, expect, it } from 'vitest'
import type { Logger } from '../src/logger.js'
import { Backoff } from '../src/util/backoff.js'
import { OutageLog } from '../src/util/outage-log.js'

describe('Backoff', () => {
  it('doubles from minMs up to maxMs with equal jitter, and starts over after reset()', () => {
    const high = new Backoff({ minMs: 100, maxMs: 1_000, random: () => 1 })
    expect([1, 2, 3, 4, 5, 6].map(() => high.next())).toEqual([100, 200, 400, 800, 1_000, 1_000])
    expect(high.failures).toBe(6)
    high.reset()
    expect(high.next()).toBe(100)
    const low = new Backoff({ minMs: 100, maxMs: 1_000, random: () => 0 })
    expect([1, 2, 3].map(() => low.next())).toEqual([50, 100, 200])
  })

  it('rejects a range that makes no sense', () => {
    expect(() => new Backoff({ minMs: 0 })).toThrow(RangeError)
    expect(() => new Backoff({ minMs: 500, maxMs: 100 })).toThrow(RangeError)
  })

  it('skip() ends a sleep at once and resets the count', async () => {
    const backoff = new Backoff({ minMs: 60_000, maxMs: 60_000 })
    const started = performance.now()
    const sleeping = backoff.wait()
    expect(backoff.failures).toBe(1)
    backoff.skip()
    await sleeping
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(backoff.failures).toBe(0)
  })

  it('an abort signal ends a sleep at once', async () => {
    const backoff = new Backoff({ minMs: 60_000, maxMs: 60_000 })
    const abort = new AbortController()
    const sleeping = backoff.wait(abort.signal)
    abort.abort()
    await sleeping
  })
})

describe('OutageLog', () => {
  function recorder() {
    const lines: string[] = []
    const logger: Logger = {
      debug: (m) => lines.push(`debug ${m}`),
      info: (m) => lines.push(`info ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    }
    return { lines, logger }
  }

  it('logs the first failure, counts the rest, reminds at most every reminderMs, one line at the end', () => {
    const { lines, logger } = recorder()
    let now = 0
    const recovered: number[] = []
    const log = new OutageLog({
      logger,
      reminderMs: 10_000,
      now: () => now,
      onRecovered: (ms) => recovered.push(ms),
    })
    log.succeeded() // nothing going on: silent
    for (; now < 25_000; now += 100)
      log.failed(now % 200 ? 'fetcher:a' : 'heartbeat', new Error('ECONNREFUSED'))
    expect(log.failing).toBe(true)
    log.succeeded()
    log.succeeded()
    expect(lines).toEqual([
      'error heartbeat error; retrying with backoff (further errors summarized)',
      'warn database still unreachable',
      'warn database still unreachable',
      'info database reachable again after 25.0s',
    ])
    expect(recovered).toEqual([25_000])
    expect(log.failing).toBe(false)
  })
})
