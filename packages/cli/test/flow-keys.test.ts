// Per-key flow control with real worker processes (docs/flow-control.md, "Per-key limits"): an
// ordered key runs its jobs one at a time in enqueue order across four workers, and a key with a
// large backlog does not hold back the others. Every assertion reads the database: the jobs table
// and the start (runs) and end (completions) times the fixture's handlers write.
import { describe, expect, it } from 'vitest'
import { waitFor } from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'
import { useWorkerSuite } from './worker-suite.js'

const suite = useWorkerSuite([
  'TRUNCATE <schema>.jobs, <schema>.runs, <schema>.completions',
  'DELETE FROM <schema>.queues',
])

async function workers(count: number, concurrency: number): Promise<void> {
  for (let i = 0; i < count; i++) await suite.worker(['--concurrency', String(concurrency)])
}

const cli = (...args: string[]) =>
  runCli([...args, '--schema', suite.t.schema], { DATABASE_URL: suite.t.url })
const count = async (sql: string) => (await suite.t.pool.query(sql)).rows[0].n as number

/** `keys` × `perKey` slow jobs, each key's jobs enqueued in order (interleaved across keys). */
async function enqueue(keys: readonly string[], perKey: (key: string) => number): Promise<void> {
  const longest = Math.max(...keys.map(perKey))
  const specs = []
  for (let i = 0; i < longest; i++) {
    for (const key of keys) {
      if (i < perKey(key)) specs.push({ task: 'slow', payload: { ms: 2 }, options: { concurrencyKey: key } })
    }
  }
  for (let i = 0; i < specs.length; i += 1000) await suite.t.pgq.enqueueMany(specs.slice(i, i + 1000))
}

describe('per-key limits (real worker processes)', () => {
  it('50 keys × 40 jobs, one per key, ordered, 4 workers: per key, starts follow enqueue order and never overlap', async () => {
    const set = await cli('queue', 'set', 'default', '--key-concurrency', '1', '--ordered', '--json')
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ keyConcurrency: 1, ordered: true })
    const keys = Array.from({ length: 50 }, (_, i) => `customer-${i}`)
    await enqueue(keys, () => 40)
    await workers(4, 10)
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM "${suite.t.schema}".completions`)) >= 2000,
      120_000,
      '2,000 jobs done',
    )
    // per key, in start order: job ids ascending, and each start after the previous job's end
    const { rows } = await suite.t.pool.query<{ key: string; ids: string[]; starts: Date[]; ends: Date[] }>(
      `SELECT j.concurrency_key AS key,
              array_agg(j.id::text ORDER BY r.at) AS ids,
              array_agg(r.at ORDER BY r.at) AS starts,
              array_agg(c.at ORDER BY r.at) AS ends
       FROM "${suite.t.schema}".jobs j
       JOIN "${suite.t.schema}".runs r ON r.job_id = j.id
       JOIN "${suite.t.schema}".completions c ON c.job_id = j.id
       GROUP BY 1`,
    )
    expect(rows).toHaveLength(50)
    for (const row of rows) {
      expect(row.ids).toHaveLength(40)
      expect(row.ids.map(BigInt)).toEqual([...row.ids.map(BigInt)].sort((a, b) => (a < b ? -1 : 1)))
      for (let i = 1; i < row.starts.length; i++) {
        expect(row.starts[i]!.getTime()).toBeGreaterThanOrEqual(row.ends[i - 1]!.getTime())
      }
    }
    // several keys ran at once, in several processes: the limit is per key, not per queue
    expect(await count(`SELECT count(DISTINCT pid)::int AS n FROM "${suite.t.schema}".runs`)).toBeGreaterThan(
      1,
    )
  }, 180_000)

  it('rate 5/s per key across 4 workers: per key, every 1 s window stays within the rate plus one bucket', async () => {
    const set = await cli('queue', 'set', 'default', '--key-rate', '5/s', '--json')
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ keyRate: '5/s' })
    const keys = ['k1', 'k2', 'k3', 'k4']
    await enqueue(keys, () => 100)
    await workers(4, 10)
    // each key: its burst of 5, then 5 per second; 4 s of it
    await waitFor(
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM "${suite.t.schema}".jobs WHERE started_at IS NOT NULL`,
        )) >=
        4 * 25,
      30_000,
      '100 jobs started',
    )
    const { rows } = await suite.t.pool.query<{ key: string; most: number; starts: number; span: number }>(
      `SELECT a.concurrency_key AS key,
              max((SELECT count(*) FROM "${suite.t.schema}".jobs b WHERE b.concurrency_key = a.concurrency_key
                     AND b.started_at >= a.started_at AND b.started_at < a.started_at + interval '1 s'))::int AS most,
              count(*)::int AS starts,
              extract(epoch FROM max(a.started_at) - min(a.started_at))::float8 AS span
       FROM "${suite.t.schema}".jobs a WHERE a.started_at IS NOT NULL GROUP BY 1 ORDER BY 1`,
    )
    expect(rows.map((r) => r.key)).toEqual(keys)
    for (const row of rows) {
      // the rate plus one bucket of burst (+1 for the skew between a claim's started_at and the bucket's clock)
      expect(row.most, row.key).toBeLessThanOrEqual(11)
      expect(row.starts, row.key).toBeLessThanOrEqual(5 + Math.ceil(5 * row.span) + 1)
      expect(row.starts, row.key).toBeGreaterThanOrEqual(10) // and the keys really ran at their rate
    }
  }, 60_000)

  it('a key with 5,000 jobs and 49 keys with 10: every key starts among the first jobs run', async () => {
    const set = await cli('queue', 'set', 'default', '--key-concurrency', '1')
    expect(set.code, set.stderr).toBe(0)
    const keys = ['big', ...Array.from({ length: 49 }, (_, i) => `small-${i}`)]
    // the big key's jobs first: a plain FIFO claim would run nothing else for a long time
    await enqueue(['big'], () => 5000)
    await enqueue(keys.slice(1), () => 10)
    await workers(4, 5)
    await waitFor(
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM "${suite.t.schema}".jobs WHERE concurrency_key <> 'big' AND state = 'succeeded'`,
        )) === 490,
      120_000,
      'the small keys done',
    )
    // the rank of each key's first start among all starts
    const { rows } = await suite.t.pool.query<{ key: string; first: number }>(
      `SELECT key, min(rank)::int AS first FROM (
         SELECT j.concurrency_key AS key, row_number() OVER (ORDER BY r.at) AS rank
         FROM "${suite.t.schema}".runs r JOIN "${suite.t.schema}".jobs j ON j.id = r.job_id) s
       GROUP BY key`,
    )
    expect(rows).toHaveLength(50)
    // 50 keys, 20 slots: every key is served within the first rounds, the big one included
    for (const row of rows) expect(row.first, row.key).toBeLessThanOrEqual(100)
    // and the big key kept its turn while the small ones ran (one at a time: at least ~1 per round)
    expect(
      await count(
        `SELECT count(*)::int AS n FROM "${suite.t.schema}".jobs WHERE concurrency_key = 'big' AND started_at IS NOT NULL`,
      ),
    ).toBeGreaterThanOrEqual(10)
  }, 180_000)
})
