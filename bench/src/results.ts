import type { CostProfile } from './profile.js'
import type { RssResult } from './rss.js'
import { type Summary, summarize } from './stats.js'

/** Identifiers of the measured quantities. */
export const METRICS = {
  bulk: { title: 'Bulk enqueue', unit: 'jobs/s', higherIsBetter: true },
  single: { title: 'Single enqueue (one awaited call at a time)', unit: 'jobs/s', higherIsBetter: true },
  producers: {
    title: '32 concurrent producers, single enqueue, with NOTIFY (pgq.enqueue(); raw: INSERT + pg_notify)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  producersStatement: {
    title:
      "32 concurrent producers, pgq.enqueue()'s statement run prepared by the bench (control for the row below)",
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  producersNoNotify: {
    title:
      '32 concurrent producers, single enqueue, without NOTIFY (pgq: that statement minus its pg_notify; raw: bare INSERT)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainDefaults: { title: 'Processing throughput, defaults', unit: 'jobs/s', higherIsBetter: true },
  drainBest: { title: 'Processing throughput, best settings', unit: 'jobs/s', higherIsBetter: true },
  drainDurable: {
    title: "Processing throughput, defaults, every commit synchronous (the peers' durability)",
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainDefaultsNotKept: {
    title: 'Processing throughput, defaults, succeeded jobs not kept (pgq: deleteOnSuccess)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestNotKept: {
    title: 'Processing throughput, best settings, succeeded jobs not kept (pgq: deleteOnSuccess)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainFresh: {
    title: 'Processing throughput, defaults, on a never-analyzed jobs table',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestUnlimited: {
    title: 'Processing throughput, best settings, no limit (measured in turn with the limit rows below)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestConcurrency: {
    title: 'Processing throughput, best settings, global concurrency limit set but not binding',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestRate: {
    title: 'Processing throughput, best settings, rate limit set but not binding',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestKeyed: {
    title: 'Processing throughput, best settings, 100 keys, no limit (plain claim, keyed indexes)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestKeys: {
    title: 'Processing throughput, best settings, 100 keys, per-key concurrency limit set but not binding',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestKeyRate: {
    title: 'Processing throughput, best settings, 100 keys, per-key rate limit set but not binding',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestOneKeyed: {
    title: 'Processing throughput, best settings, 1 key, no limit (plain claim, keyed indexes)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  drainBestOneKey: {
    title: 'Processing throughput, best settings, 1 key, per-key concurrency limit set but not binding',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  latencyP50: { title: 'Latency p50 (enqueue call → handler start)', unit: 'ms', higherIsBetter: false },
  latencyP95: { title: 'Latency p95', unit: 'ms', higherIsBetter: false },
  latencyP99: { title: 'Latency p99', unit: 'ms', higherIsBetter: false },
  io: { title: 'I/O-bound jobs, concurrency 200', unit: 'jobs/s', higherIsBetter: true },
  backlogSmall: { title: 'Throughput from a small backlog', unit: 'jobs/s', higherIsBetter: true },
  backlogLarge: { title: 'Throughput from a large backlog', unit: 'jobs/s', higherIsBetter: true },
  scaleP1: {
    title: 'Processing throughput, 1 worker process (defaults)',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  scaleP2: { title: 'Processing throughput, 2 worker processes', unit: 'jobs/s', higherIsBetter: true },
  scaleP4: { title: 'Processing throughput, 4 worker processes', unit: 'jobs/s', higherIsBetter: true },
  scaleP8: { title: 'Processing throughput, 8 worker processes', unit: 'jobs/s', higherIsBetter: true },
  fanInPlain: {
    title:
      'Plain jobs (10,000 in full and quick runs), enqueued in one call → last handler end, best settings',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  fanInChord: {
    title:
      'Workflow: group of as many members + chord callback, created in one call → callback end, same worker',
    unit: 'jobs/s',
    higherIsBetter: true,
  },
  notifyP50: { title: 'Bare NOTIFY → LISTEN delivery p50', unit: 'ms', higherIsBetter: false },
  notifyP99: { title: 'Bare NOTIFY → LISTEN delivery p99', unit: 'ms', higherIsBetter: false },
} as const

/** One of {@link METRICS}. */
export type MetricId = keyof typeof METRICS

/** Everything measured for one system on one metric. */
export interface Entry {
  status: 'ok' | 'not-available' | 'error'
  samples: number[]
  /** Why it is not ok, or a caveat (e.g. a drain that hit its time limit). */
  notes: string[]
  /** Cost profiles of the drains behind this entry. */
  costs: CostProfile[]
}

/** Results of a whole run, filled as measurements complete. */
export class Results {
  readonly entries: Partial<Record<MetricId, Record<string, Entry>>> = {}
  readonly rss: Record<string, RssResult | { error: string }> = {}

  #entry(metric: MetricId, system: string): Entry {
    const bySystem = this.entries[metric] ?? {}
    this.entries[metric] = bySystem
    bySystem[system] ??= { status: 'ok', samples: [], notes: [], costs: [] }
    return bySystem[system]
  }

  /** Records one sample (and optionally its cost profile or a caveat). */
  add(
    metric: MetricId,
    system: string,
    value: number,
    extra: { cost?: CostProfile; note?: string } = {},
  ): void {
    const entry = this.#entry(metric, system)
    entry.samples.push(value)
    if (extra.cost) entry.costs.push(extra.cost)
    if (extra.note && !entry.notes.includes(extra.note)) entry.notes.push(extra.note)
  }

  /** Records that a system could not be measured. */
  fail(metric: MetricId, system: string, status: 'not-available' | 'error', note: string): void {
    const entry = this.#entry(metric, system)
    if (entry.samples.length === 0) entry.status = status
    if (!entry.notes.includes(note)) entry.notes.push(note)
  }

  /** Median and range of one system's samples, or null when it has none. */
  summary(metric: MetricId, system: string): Summary | null {
    const entry = this.entries[metric]?.[system]
    if (!entry || entry.samples.length === 0) return null
    return summarize(entry.samples)
  }

  /** The median, or null. */
  median(metric: MetricId, system: string): number | null {
    return this.summary(metric, system)?.median ?? null
  }
}
