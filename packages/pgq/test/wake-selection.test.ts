import { describe, expect, it } from 'vitest'
import { formatQueueWake, parseQueueWake } from '../src/notify/messages.js'
import { selectWake, WAKE_FANOUT } from '../src/worker/wake-selection.js'

/** The ranks of a queue with `size` workers that a wake-up chooses, each deciding alone. */
function chosenRanks(size: number, payload: string, senderPid: number): number[] {
  const wake = parseQueueWake(payload)!
  return Array.from({ length: size }, (_, rank) => rank).filter(
    (rank) => selectWake(wake, senderPid, { rank, size }).chosen,
  )
}

describe('selectWake (bounded wake-ups)', () => {
  it('chooses exactly the fan-out among many workers, whatever the sending backend', () => {
    for (const size of [3, 8, 10, 100]) {
      for (const pid of [0, 1, 7, 4242, 65_535, 2_147_483_647]) {
        expect(chosenRanks(size, 'emails', pid)).toHaveLength(WAKE_FANOUT)
      }
    }
  })

  it('wakes every worker of a queue with no more workers than the fan-out, and any worker without a rank', () => {
    expect(chosenRanks(2, 'emails', 99)).toEqual([0, 1])
    expect(selectWake({ queue: 'emails' }, 99, undefined)).toEqual({ chosen: true })
  })

  it('spreads wake-ups from different backends over the workers', () => {
    const woken = new Set<number>()
    for (let pid = 1000; pid < 1010; pid++) for (const rank of chosenRanks(10, 'emails', pid)) woken.add(rank)
    expect(woken.size).toBe(10)
  })

  it('relays reach each worker once per lap, then stop', () => {
    const size = 7
    const start = chosenRanks(size, 'emails', 12)
    const reached = new Set(start)
    let frontier = start.map((rank) => selectWake({ queue: 'emails' }, 12, { rank, size }).next)
    let hops = 0
    while (frontier.some((next) => next)) {
      hops++
      const nexts = frontier.filter((n) => n !== undefined)
      frontier = []
      for (const next of nexts) {
        const payload = formatQueueWake({ queue: 'emails', relay: next })
        const ranks = chosenRanks(size, payload, 999) // a relay's sender does not matter
        expect(ranks).toEqual([next.position % size])
        reached.add(ranks[0]!)
        frontier.push(selectWake(parseQueueWake(payload)!, 999, { rank: ranks[0]!, size }).next)
      }
    }
    expect(reached.size).toBe(size)
    expect(hops).toBeLessThanOrEqual(Math.ceil(size / WAKE_FANOUT))
  })

  it('reads and writes relay payloads; queue names cannot contain #', () => {
    expect(parseQueueWake('video#3/1')).toEqual({ queue: 'video', relay: { position: 3, hop: 1 } })
    expect(formatQueueWake({ queue: 'video', relay: { position: 3, hop: 1 } })).toBe('video#3/1')
    expect(parseQueueWake('video#3')).toBeUndefined()
    expect(parseQueueWake('vi#deo')).toBeUndefined()
  })
})
