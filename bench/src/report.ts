import { cpus, totalmem } from 'node:os'
import type { SuiteConfig } from './config.js'
import type { CostProfile } from './profile.js'
import { METRICS, type MetricId } from './results.js'
import type { RssResult } from './rss.js'
import { summarize } from './stats.js'
import type { SuiteRun } from './suite.js'
import { checkTargets, type TargetCheck } from './targets.js'

/** The JSON form of a run (docs/benchmarks.json). */
export interface BenchReport {
  readonly generatedAt: string
  readonly mode: SuiteConfig['mode']
  readonly durationSeconds: number
  readonly machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string }
  readonly database: { source: string; settings: Record<string, string> }
  readonly pgqRevision: string
  readonly skipped: readonly string[]
  readonly systems: SuiteRun['systems']
  readonly config: SuiteConfig
  readonly metrics: Record<string, { title: string; unit: string; bySystem: Record<string, unknown> }>
  readonly costs: Record<string, Record<string, CostProfile>>
  readonly rss: SuiteRun['results']['rss']
  readonly targets: readonly TargetCheck[]
}

/** Context of a run that the suite itself does not know. */
export interface ReportContext {
  readonly config: SuiteConfig
  readonly databaseSource: string
  readonly settings: Record<string, string>
  readonly pgqRevision: string
  /** Systems left out, with why (e.g. no Redis). */
  readonly skipped: readonly string[]
}

/** The median of each field of several cost profiles. */
function medianCost(costs: readonly CostProfile[]): CostProfile | null {
  if (costs.length === 0) return null
  const med = (pick: (c: CostProfile) => number | null) => {
    const values = costs.map(pick).filter((v): v is number => v !== null)
    return values.length ? summarize(values).median : null
  }
  return {
    roundTripsPerJob: med((c) => c.roundTripsPerJob)!,
    commitsPerJob: med((c) => c.commitsPerJob)!,
    walBytesPerJob: med((c) => c.walBytesPerJob)!,
    nodeCpuMsPerJob: med((c) => c.nodeCpuMsPerJob)!,
    pgCpuMsPerJob: med((c) => c.pgCpuMsPerJob),
  }
}

/** Builds the JSON report of a run. */
export function buildReport(run: SuiteRun, context: ReportContext): BenchReport {
  const metrics: BenchReport['metrics'] = {}
  const costs: BenchReport['costs'] = {}
  for (const [id, meta] of Object.entries(METRICS)) {
    const bySystem: Record<string, unknown> = {}
    for (const [system, entry] of Object.entries(run.results.entries[id as MetricId] ?? {})) {
      const summary = run.results.summary(id as MetricId, system)
      bySystem[system] = { status: entry.status, ...(summary ?? {}), notes: entry.notes }
      const cost = medianCost(entry.costs)
      if (cost) costs[id] = { ...costs[id], [system]: cost }
    }
    metrics[id] = { title: meta.title, unit: meta.unit, bySystem }
  }
  return {
    generatedAt: new Date().toISOString(),
    mode: context.config.mode,
    durationSeconds: Math.round(run.durationMs / 1000),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    database: { source: context.databaseSource, settings: context.settings },
    pgqRevision: context.pgqRevision,
    skipped: context.skipped,
    systems: run.systems,
    config: context.config,
    metrics,
    costs,
    rss: run.results.rss,
    targets: checkTargets(run.results, context.config),
  }
}

export type { RssResult }
