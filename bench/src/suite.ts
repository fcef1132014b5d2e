import type pg from 'pg'
import type { SuiteConfig } from './config.js'
import {
  type DrainOptions,
  measureBulkEnqueue,
  measureDrain,
  measureLatency,
  measureSingleEnqueue,
} from './measure.js'
import { measureProducers, producersNote } from './producers.js'
import { METRICS, type MetricId, Results } from './results.js'
import { measureWorkerRss } from './rss.js'
import { measureScale } from './scale.js'
import { percentile } from './stats.js'
import { createSystem, type SystemName } from './systems/index.js'
import { NotAvailableError } from './systems/not-available.js'
import { RawSqlSystem } from './systems/raw-sql.js'
import type { BenchEnv, BenchSystem, WorkerProfile } from './types.js'

/** Options of {@link runSuite}. */
export interface SuiteOptions {
  readonly config: SuiteConfig
  readonly env: BenchEnv
  readonly systems: readonly SystemName[]
  /** Pool for cost profiles (counters of the benchmark database). */
  readonly harnessPool: pg.Pool
  readonly log: (line: string) => void
  /** Measure only these metrics (`--metrics`); default: all. RSS is measured only when unfiltered. */
  readonly metrics?: readonly string[]
}

/** What a run measured, plus what it measured it on. */
export interface SuiteRun {
  readonly results: Results
  readonly systems: ReadonlyArray<Pick<BenchSystem, 'name' | 'version' | 'settings'>>
  readonly durationMs: number
}

const fmt = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2))

/** Runs every measurement of `config`, systems interleaved within each repetition. */
export async function runSuite(options: SuiteOptions): Promise<SuiteRun> {
  const { config, log } = options
  const started = performance.now()
  const results = new Results()
  const systems: BenchSystem[] = []
  for (const name of options.systems) {
    const system = await createSystem(name, options.env)
    try {
      await system.setup()
      systems.push(system)
    } catch (error) {
      log(`${name}: setup failed, left out: ${(error as Error).message}`)
      await system.close().catch(() => {})
    }
  }

  /** Runs `measure` for every system (optionally filtered), `config.reps` times, rotating the order. */
  const interleave = async (
    step: string,
    ids: MetricId[],
    needsWorker: boolean,
    measure: (system: BenchSystem) => Promise<void>,
    only?: readonly string[],
  ) => {
    if (options.metrics && !ids.some((id) => options.metrics!.includes(id))) return
    const chosen = systems.filter((s) => !only || only.includes(s.name))
    const stepStart = performance.now()
    for (let rep = 0; rep < config.reps; rep++) {
      const order = chosen.map((_, k) => chosen[(k + rep) % chosen.length]!)
      for (const system of order) {
        if (needsWorker && system.workerAvailable?.() === false) {
          for (const id of ids) results.fail(id, system.name, 'not-available', 'worker not available yet')
          continue
        }
        try {
          await measure(system)
        } catch (error) {
          const unavailable = error instanceof NotAvailableError
          const message = (error as Error).message
          for (const id of ids)
            results.fail(id, system.name, unavailable ? 'not-available' : 'error', message)
          log(`[${step}] ${system.name}: ${unavailable ? 'not available' : 'FAILED'}: ${message}`)
        }
      }
    }
    log(`[${step}] done in ${((performance.now() - stepStart) / 1000).toFixed(1)} s`)
  }

  const record = (step: string, id: MetricId, system: BenchSystem, value: number, note?: string) => {
    results.add(id, system.name, value, note ? { note } : {})
    log(`[${step}] ${system.name}: ${fmt(value)} ${METRICS[id].unit}${note ? ` (${note})` : ''}`)
  }

  const drain = async (
    step: string,
    id: MetricId,
    system: BenchSystem,
    o: Omit<DrainOptions, 'profilePool'>,
  ) => {
    const profilePool = system.name === 'bullmq' ? undefined : options.harnessPool
    const r = await measureDrain(system, profilePool ? { ...o, profilePool } : o)
    const note = r.timedOut
      ? `stopped after ${o.timeoutMs / 1000} s, ${r.processed} of ${o.target} jobs done`
      : undefined
    results.add(id, system.name, r.rate, { ...(r.cost ? { cost: r.cost } : {}), ...(note ? { note } : {}) })
    log(`[${step}] ${system.name}: ${fmt(r.rate)} jobs/s${note ? ` (${note})` : ''}`)
  }

  await interleave('bulk', ['bulk'], false, async (s) =>
    record('bulk', 'bulk', s, await measureBulkEnqueue(s, config.bulk.count, config.bulk.chunk)),
  )
  await interleave('single', ['single'], false, async (s) =>
    record('single', 'single', s, await measureSingleEnqueue(s, config.single.count)),
  )
  // 32 producers, one awaited single enqueue each: with and without the NOTIFY (issue 15). The
  // variants take turns in a rotating order, so none always runs first.
  const pc = config.producers
  const variants = [
    ['producers', 'notify'],
    ['producersStatement', 'statement'],
    ['producersNoNotify', 'noNotify'],
  ] as const
  const producerOrder = rotation(variants)
  await interleave(
    `${pc.producers} producers`,
    variants.map(([id]) => id),
    false,
    async (s) => {
      for (const [id, variant] of producerOrder()) {
        // the statement copy is pgq's control; raw SQL's `notify` is already its own statement
        if (variant === 'statement' && s instanceof RawSqlSystem) continue
        const r = await measureProducers(s, variant, pc.producers, pc.count, options.harnessPool)
        record(`${pc.producers} producers, ${variant}`, id, s, r.jobsPerSecond, producersNote(r))
      }
    },
    systems.filter((s) => s.openProducers).map((s) => s.name),
  )
  const noop = (profile: WorkerProfile): Omit<DrainOptions, 'profilePool'> => ({
    profile,
    queued: config.drain.count,
    target: config.drain.count,
    handlerMs: 0,
    concurrency: 10,
    timeoutMs: config.drain.timeoutMs,
  })
  await interleave('drain defaults', ['drainDefaults'], true, (s) =>
    drain('drain defaults', 'drainDefaults', s, noop('defaults')),
  )
  await interleave('drain best', ['drainBest'], true, (s) =>
    drain('drain best', 'drainBest', s, noop('best')),
  )
  // at the peers' durability: pgq's bookkeeping commits synchronously too (the peers always do)
  await interleave(
    'drain synchronous commit',
    ['drainDurable'],
    true,
    (s) =>
      drain('drain synchronous commit', 'drainDurable', s, { ...noop('defaults'), synchronousCommit: true }),
    ['pgq'],
  )
  // succeeded jobs deleted by the outcome statement (deleteOnSuccess), as graphile-worker and the raw
  // claim-then-delete drain do: one write of the row fewer, no result kept
  await interleave(
    'drain, succeeded jobs not kept',
    ['drainDefaultsNotKept', 'drainBestNotKept'],
    true,
    async (s) => {
      await drain('drain defaults, not kept', 'drainDefaultsNotKept', s, {
        ...noop('defaults'),
        deleteOnSuccess: true,
      })
      await drain('drain best, not kept', 'drainBestNotKept', s, { ...noop('best'), deleteOnSuccess: true })
    },
    ['pgq'],
  )
  // a fresh install: the jobs table has no planner statistics (the others were analyzed by now)
  await interleave(
    'drain fresh table',
    ['drainFresh'],
    true,
    (s) => drain('drain fresh table', 'drainFresh', s, { ...noop('defaults'), fresh: true }),
    systems.filter((s) => s.resetFresh).map((s) => s.name),
  )
  // Flow control: the same drain with a limit set so high it never binds (the limited claim path),
  // beside the unlimited drain (issue 14 asks for within 10 %). The variants run in turn inside each
  // repetition, their order rotated from one repetition to the next, so that drift of the machine
  // over the run (load, autovacuum, WAL) falls on all of them alike; drainBestUnlimited is the
  // reference measured that way.
  const limitVariants = [
    ['drainBestUnlimited', null],
    ['drainBestConcurrency', { concurrency: 1_000_000 }],
    ['drainBestRate', { rate: '1000000/s' }],
    // 100 keys and no limit: what keyed jobs cost apart from any limit (the reference of the two
    // per-key rows), then a per-key limit or rate that never binds (the keyed claim)
    ['drainBestKeyed', { keys: 100 }],
    ['drainBestKeys', { keyConcurrency: 1_000_000, keys: 100 }],
    ['drainBestKeyRate', { keyRate: '1000000/s', keys: 100 }],
    // one key holding every job: the key's index serves its claims (migration 0017; before it, with
    // statistics taken while the key held every job, each claim read the table from its oldest row)
    ['drainBestOneKeyed', { keys: 1 }],
    ['drainBestOneKey', { keyConcurrency: 1_000_000, keys: 1 }],
  ] as const
  const wanted = limitVariants.filter(([id]) => !options.metrics || options.metrics.includes(id))
  const limitOrder = rotation(wanted)
  await interleave(
    'drain best, limits set but not binding',
    wanted.map(([id]) => id),
    true,
    async (s) => {
      for (const [id, limits] of limitOrder()) {
        await s.setLimits!(limits)
        try {
          await drain(`drain best, ${id}`, id, s, {
            ...noop('best'),
            queued: config.limits.count,
            target: config.limits.count,
            timeoutMs: config.limits.timeoutMs,
          })
        } finally {
          await s.setLimits!(null)
        }
      }
    },
    systems.filter((s) => s.setLimits).map((s) => s.name),
  )
  await interleave('latency', ['latencyP50', 'latencyP95', 'latencyP99'], true, async (s) => {
    const r = await measureLatency(s, config.latency.count, config.latency.gapMs)
    const note =
      r.received < r.sent ? `${r.sent - r.received} of ${r.sent} jobs not started within 5 s` : undefined
    results.add('latencyP50', s.name, r.p50, note ? { note } : {})
    results.add('latencyP95', s.name, r.p95)
    results.add('latencyP99', s.name, r.p99)
    log(
      `[latency] ${s.name}: p50 ${fmt(r.p50)} / p95 ${fmt(r.p95)} / p99 ${fmt(r.p99)} ms${note ? ` (${note})` : ''}`,
    )
  })
  const io = config.io
  await interleave('io', ['io'], true, (s) =>
    drain('io', 'io', s, {
      profile: 'io',
      queued: io.count,
      target: io.count,
      handlerMs: io.handlerMs,
      concurrency: io.concurrency,
      timeoutMs: io.timeoutMs,
    }),
  )
  const bl = config.backlog
  await interleave(
    'backlog',
    ['backlogSmall', 'backlogLarge'],
    true,
    async (s) => {
      for (const [id, queued] of [
        ['backlogSmall', bl.small],
        ['backlogLarge', bl.large],
      ] as const) {
        await drain(`backlog ${queued}`, id, s, {
          ...noop('defaults'),
          queued,
          target: bl.target,
          timeoutMs: 60_000,
        })
      }
    },
    bl.systems,
  )
  // several worker processes on one queue, each with its own pool: does throughput grow with them?
  const sc = config.scale
  for (const processes of sc.processes) {
    const id = `scaleP${processes}` as const
    await interleave(
      `${processes} worker processes`,
      [id],
      true,
      async (s) => {
        const r = await measureScale(s, options.env, processes, sc.jobs, sc.timeoutMs)
        record(
          `${processes} worker processes`,
          id,
          s,
          r.jobsPerSecond,
          `per process: ${r.perProcess.join(' / ')}`,
        )
      },
      sc.systems,
    )
  }
  const fanIn = config.fanIn
  await interleave(
    'fan-in',
    ['fanInPlain', 'fanInChord'],
    true,
    async (s) => {
      if (!s.fanIn) throw new NotAvailableError('no workflow adapter')
      for (const [id, shape] of [
        ['fanInPlain', 'plain'],
        ['fanInChord', 'chord'],
      ] as const) {
        const r = await s.fanIn(fanIn.count, shape, fanIn.timeoutMs)
        record(
          `fan-in ${shape}`,
          id,
          s,
          r.jobsPerSecond,
          `${fanIn.count} jobs, created in ${Math.round(r.createMs)} ms`,
        )
      }
    },
    ['pgq'],
  )
  const raw = systems.find((s): s is RawSqlSystem => s instanceof RawSqlSystem)
  if (raw && (!options.metrics || options.metrics.includes('notifyP50'))) {
    for (let rep = 0; rep < config.reps; rep++) {
      const times = (await raw.notifyRoundTrip(config.notifyRtt.count, config.notifyRtt.gapMs)).sort(
        (a, b) => a - b,
      )
      record('notify', 'notifyP50', raw, percentile(times, 50))
      record('notify', 'notifyP99', raw, percentile(times, 99))
    }
  }
  // Worker memory: every system with its best settings; pgq also with its defaults (what most users run).
  const rssRuns: Array<[BenchSystem, WorkerProfile]> = []
  for (const s of systems.filter(
    (s) => !options.metrics && config.rss.systems.includes(s.name as SystemName),
  )) {
    if (s.name === 'pgq') rssRuns.push([s, 'defaults'])
    rssRuns.push([s, 'best'])
  }
  for (const [system, profile] of rssRuns) {
    const key = profile === 'best' ? system.name : `${system.name} (defaults)`
    if (system.workerAvailable?.() === false) {
      results.rss[key] = { error: 'worker not available yet' }
      continue
    }
    try {
      const r = await measureWorkerRss(system, options.env, config.rss.jobs, profile, config.rss.timeoutMs)
      results.rss[key] = r
      log(
        `[rss] ${key}: peak ${r.peakMb.toFixed(1)} MB, warm ${r.warmMb.toFixed(1)} → late ${r.lateMb.toFixed(1)} MB`,
      )
    } catch (error) {
      results.rss[key] = { error: (error as Error).message }
      log(`[rss] ${key}: FAILED: ${(error as Error).message}`)
    }
  }
  for (const system of systems) await system.close().catch(() => {})
  return {
    results,
    systems: systems.map((s) => ({ name: s.name, version: s.version, settings: s.settings })),
    durationMs: performance.now() - started,
  }
}

/** The items in an order rotated by one more place at each call, so that none always runs first. */
function rotation<T>(items: readonly T[]): () => T[] {
  let turn = 0
  return () => {
    const start = turn++
    return items.map((_, k) => items[(k + start) % items.length]!)
  }
}
