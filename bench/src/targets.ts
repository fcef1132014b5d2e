import type { SuiteConfig } from './config.js'
import type { Results } from './results.js'
import type { RssResult } from './rss.js'

/** One row of the targets table. */
export interface TargetCheck {
  readonly measurement: string
  readonly target: string
  /** What was measured, with the ratio. */
  readonly measured: string
  /** null: could not be judged (a side was not measured). */
  readonly met: boolean | null
}

const x = (ratio: number) => `${ratio.toFixed(2)}×`
const n = (value: number) => Math.round(value).toLocaleString('en-US')

/** `a / b` checked against `min`, or a "not measured" row. */
function ratioCheck(
  measurement: string,
  target: string,
  a: number | null,
  b: number | null,
  min: number,
  label: string,
): TargetCheck {
  if (a === null || b === null) return { measurement, target, measured: 'not measured', met: null }
  const ratio = a / b
  return { measurement, target, measured: `${x(ratio)} (${n(a)} vs ${label} ${n(b)})`, met: ratio >= min }
}

/**
 * Issue 15: N concurrent producers, single enqueue — NOTIFY costs at most 20 %. Judged on
 * `pgq.enqueue()` (which, with enqueues in flight, sends its NOTIFY after the commit, folded per
 * queue: client/enqueue-wakes.ts) against its statement without any pg_notify (the bench's prepared
 * copy); the same statement with its pg_notify inside each commit, and raw SQL's INSERT with and
 * without pg_notify, are shown beside.
 */
function producersCheck(results: Results, config: SuiteConfig): TargetCheck {
  const m = results.median.bind(results)
  const measurement = `${config.producers.producers} concurrent producers, single enqueue: NOTIFY cost`
  const target = 'pgq.enqueue() ≥ 0.8× its statement without NOTIFY'
  const library = m('producers', 'pgq')
  const without = m('producersNoNotify', 'pgq')
  if (library === null || without === null)
    return { measurement, target, measured: 'not measured', met: null }
  const inside = m('producersStatement', 'pgq')
  const rawWith = m('producers', 'raw-sql')
  const rawWithout = m('producersNoNotify', 'raw-sql')
  const raw =
    rawWith !== null && rawWithout !== null
      ? `; raw SQL ${x(rawWith / rawWithout)} (INSERT + pg_notify ${n(rawWith)} vs bare INSERT ${n(rawWithout)})`
      : ''
  const insideText =
    inside === null ? '' : `; NOTIFY inside each commit ${x(inside / without)} (${n(inside)})`
  return {
    measurement,
    target,
    measured: `${x(library / without)} (pgq.enqueue() ${n(library)} vs without NOTIFY ${n(without)})${insideText}${raw}`,
    met: library / without >= 0.8,
  }
}

/** Checks pgq's targets of issue 7 against the medians of this run. */
export function checkTargets(results: Results, config: SuiteConfig): TargetCheck[] {
  const m = results.median.bind(results)
  const pgqDefaults = m('drainDefaults', 'pgq')
  const rawCeiling = Math.max(m('drainDefaults', 'raw-sql') ?? 0, m('drainBest', 'raw-sql') ?? 0) || null
  const checks: TargetCheck[] = [
    ratioCheck(
      'processing, pgq defaults',
      '≥ 1.25× graphile-worker best',
      pgqDefaults,
      m('drainBest', 'graphile-worker'),
      1.25,
      'graphile best',
    ),
    ratioCheck('processing, pgq defaults', '≥ 0.75× raw-SQL ceiling', pgqDefaults, rawCeiling, 0.75, 'raw'),
    ratioCheck(
      'processing, pgq defaults, synchronous commit',
      '≥ 1.25× graphile-worker best',
      m('drainDurable', 'pgq'),
      m('drainBest', 'graphile-worker'),
      1.25,
      'graphile best',
    ),
    // what the defaults give when succeeded jobs are not kept, as graphile-worker keeps none
    ratioCheck(
      'processing, pgq defaults, succeeded jobs not kept',
      '≥ 1.25× graphile-worker best',
      m('drainDefaultsNotKept', 'pgq'),
      m('drainBest', 'graphile-worker'),
      1.25,
      'graphile best',
    ),
    ratioCheck(
      'processing, pgq best settings, succeeded jobs not kept',
      '≥ 1.25× graphile-worker best',
      m('drainBestNotKept', 'pgq'),
      m('drainBest', 'graphile-worker'),
      1.25,
      'graphile best',
    ),
    ratioCheck(
      'processing, never-analyzed table',
      '≥ 0.9× an analyzed one',
      m('drainFresh', 'pgq'),
      pgqDefaults,
      0.9,
      'analyzed',
    ),
  ]
  // no stalls: the slowest repetition is not far below the median
  const spread = results.summary('drainDefaults', 'pgq')
  checks.push(
    spread === null || spread.samples.length < 2
      ? {
          measurement: 'processing, run to run',
          target: 'min ≥ 0.8× median',
          measured: 'not measured',
          met: null,
        }
      : {
          measurement: 'processing, run to run',
          target: 'min ≥ 0.8× median',
          measured: `${x(spread.min / spread.median)} (min ${n(spread.min)}, median ${n(spread.median)})`,
          met: spread.min >= 0.8 * spread.median,
        },
  )
  // flow control (issue 14): a limit set but not binding costs under 10 % of the same drain without
  // it, measured in turn in the same repetitions (suite.ts): the plain jobs' limits against the plain
  // drain, the per-key limits against the same keyed jobs drained without a limit
  for (const [id, label, reference, referenceLabel] of [
    ['drainBestConcurrency', 'global concurrency', 'drainBestUnlimited', 'unlimited'],
    ['drainBestRate', 'rate', 'drainBestUnlimited', 'unlimited'],
    ['drainBestKeys', 'per-key concurrency, 100 keys', 'drainBestKeyed', 'same keyed jobs, no limit'],
    ['drainBestKeyRate', 'per-key rate, 100 keys', 'drainBestKeyed', 'same keyed jobs, no limit'],
    ['drainBestOneKey', 'per-key concurrency, 1 key', 'drainBestOneKeyed', 'same keyed jobs, no limit'],
  ] as const) {
    checks.push(
      ratioCheck(
        `processing, ${label} limit not binding`,
        `≥ 0.9× ${referenceLabel} (best settings)`,
        m(id, 'pgq'),
        m(reference, 'pgq'),
        0.9,
        referenceLabel,
      ),
    )
  }
  const p50 = m('latencyP50', 'pgq')
  const rawP50 = m('latencyP50', 'raw-sql')
  checks.push(
    p50 === null || rawP50 === null
      ? {
          measurement: 'latency p50',
          target: '≤ 1.2× raw LISTEN/NOTIFY round trip',
          measured: 'not measured',
          met: null,
        }
      : {
          measurement: 'latency p50',
          target: '≤ 1.2× raw LISTEN/NOTIFY round trip',
          measured: `${x(p50 / rawP50)} (${p50.toFixed(2)} ms vs raw ${rawP50.toFixed(2)} ms)`,
          met: p50 <= rawP50 * 1.2,
        },
  )
  const p99 = m('latencyP99', 'pgq')
  checks.push({
    measurement: 'latency p99',
    target: '≤ 10 ms',
    measured: p99 === null ? 'not measured' : `${p99.toFixed(2)} ms`,
    met: p99 === null ? null : p99 <= 10,
  })
  checks.push(
    ratioCheck(
      'bulk enqueue',
      '≥ 2× graphile-worker addJobs',
      m('bulk', 'pgq'),
      m('bulk', 'graphile-worker'),
      2,
      'graphile',
    ),
    ratioCheck(
      'single enqueue',
      '≥ 1.5× graphile-worker addJob',
      m('single', 'pgq'),
      m('single', 'graphile-worker'),
      1.5,
      'graphile',
    ),
    ratioCheck(
      'single enqueue',
      '≥ 0.85× bare single-row INSERT',
      m('single', 'pgq'),
      m('single', 'raw-sql'),
      0.85,
      'raw',
    ),
    producersCheck(results, config),
    ratioCheck(
      `I/O-bound, concurrency ${config.io.concurrency}`,
      '≥ 0.85× ideal',
      m('io', 'pgq'),
      (config.io.concurrency * 1000) / config.io.handlerMs,
      0.85,
      'ideal',
    ),
    ratioCheck(
      `backlog ${n(config.backlog.large)} vs ${n(config.backlog.small)}`,
      '≥ 0.8×',
      m('backlogLarge', 'pgq'),
      m('backlogSmall', 'pgq'),
      0.8,
      'small backlog',
    ),
  )
  checks.push(
    ratioCheck(
      '4 worker processes vs 1',
      '≥ 1.6×',
      m('scaleP4', 'pgq'),
      m('scaleP1', 'pgq'),
      1.6,
      '1 process',
    ),
  )
  // Both pgq runs must meet it: defaults (concurrency 10) and best settings (concurrency 200).
  const runs = [results.rss['pgq (defaults)'], results.rss.pgq]
  const measured = runs.filter((r): r is RssResult => r !== undefined && !('error' in r))
  checks.push({
    measurement: 'worker RSS (pgq defaults; best)',
    target: '< 150 MB peak, flat after warm-up',
    measured:
      measured.length === 0
        ? 'not measured'
        : measured
            .map(
              (r) =>
                `peak ${r.peakMb.toFixed(0)} MB, ${r.warmMb.toFixed(0)} → ${r.lateMb.toFixed(0)} MB${r.flat ? ' (flat)' : ' (grows)'}`,
            )
            .join('; '),
    met: measured.length < runs.length ? null : measured.every((r) => r.peakMb < 150 && r.flat),
  })
  return checks
}
