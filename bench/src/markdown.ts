import type { BenchReport } from './report.js'
import type { METRICS } from './results.js'

type MetricEntry = { status: string; median?: number; min?: number; max?: number; notes: string[] }

const num = (v: number) =>
  v >= 1000
    ? Math.round(v).toLocaleString('en-US')
    : v >= 100
      ? v.toFixed(0)
      : v >= 10
        ? v.toFixed(1)
        : v.toFixed(2)
const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`

function metricTable(report: BenchReport, id: keyof typeof METRICS): string[] {
  const metric = report.metrics[id]
  if (!metric || Object.keys(metric.bySystem).length === 0) return []
  const pgq = (metric.bySystem.pgq as MetricEntry | undefined)?.median
  const lines = [
    `### ${metric.title} (${metric.unit})`,
    '',
    row(['system', 'median', 'min–max', 'pgq ÷ this', 'notes']),
    row(['---', '---:', '---:', '---:', '---']),
  ]
  for (const [system, raw] of Object.entries(metric.bySystem)) {
    const e = raw as MetricEntry
    if (e.median === undefined) {
      lines.push(row([system, e.status, '', '', e.notes.join('; ')]))
      continue
    }
    const ratio = pgq !== undefined && e.median > 0 ? `${(pgq / e.median).toFixed(2)}×` : ''
    lines.push(row([system, num(e.median), `${num(e.min!)}–${num(e.max!)}`, ratio, e.notes.join('; ')]))
  }
  return [...lines, '']
}

function costTable(report: BenchReport): string[] {
  const lines = [
    '### What a drained job costs (medians of the processing runs)',
    '',
    row([
      'run',
      'system',
      'pg round trips / job',
      'commits / job',
      'WAL bytes / job',
      'Node CPU ms / job',
      'Postgres CPU ms / job',
    ]),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:']),
  ]
  for (const [id, bySystem] of Object.entries(report.costs)) {
    for (const [system, c] of Object.entries(bySystem)) {
      lines.push(
        row([
          report.metrics[id]?.title ?? id,
          system,
          c.roundTripsPerJob.toFixed(3),
          c.commitsPerJob.toFixed(3),
          c.walBytesPerJob.toFixed(0),
          c.nodeCpuMsPerJob.toFixed(4),
          c.pgCpuMsPerJob === null ? 'n/a' : c.pgCpuMsPerJob.toFixed(4),
        ]),
      )
    }
  }
  return [...lines, '']
}

function rssTable(report: BenchReport): string[] {
  const entries = Object.entries(report.rss)
  if (entries.length === 0) return []
  const lines = [
    '### Worker memory (child process; best settings unless marked)',
    '',
    row(['system', 'jobs', 'jobs/s', 'peak RSS MB', 'after warm-up MB', 'end MB', 'flat']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---']),
  ]
  for (const [system, r] of entries) {
    if ('error' in r) lines.push(row([system, '', '', '', '', '', r.error]))
    else
      lines.push(
        row([
          system,
          num(r.jobs),
          num(r.jobsPerSecond),
          r.peakMb.toFixed(1),
          r.warmMb.toFixed(1),
          r.lateMb.toFixed(1),
          r.flat ? 'yes' : 'no',
        ]),
      )
  }
  return [...lines, '']
}

/** Renders the generated part of docs/benchmarks.md. */
export function renderMarkdown(report: BenchReport): string {
  const m = report.machine
  const lines = [
    `Generated ${report.generatedAt} by \`pnpm bench${report.mode === 'full' ? '' : ` --${report.mode}`}\` (${report.mode} mode, ${report.durationSeconds} s; pgq at ${report.pgqRevision}).`,
    '',
    `- Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGb} GB RAM, Node ${m.node}, ${m.platform}.`,
    `- Database: ${report.database.source}; ${report.database.settings.version ?? ''}.`,
    `- Postgres settings: ${Object.entries(report.database.settings)
      .filter(([k]) => k !== 'version')
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ')}.`,
    `- Repetitions: ${report.config.reps} per measurement, systems interleaved (order rotated each repetition), jobs deleted/truncated before every run. Medians with min–max.`,
    ...(report.skipped.length ? [`- Skipped: ${report.skipped.join('; ')}.`] : []),
    '',
    row(['system', 'version', 'defaults', 'best settings']),
    row(['---', '---', '---', '---']),
    ...report.systems.map((s) => row([s.name, s.version, s.settings.defaults, s.settings.best])),
    '',
    '### Targets (pgq, ratios within this run)',
    '',
    row(['measurement', 'target', 'measured', 'met']),
    row(['---', '---', '---', '---']),
    ...report.targets.map((t) =>
      row([t.measurement, t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'yes' : '**no**']),
    ),
    '',
  ]
  const ids = Object.keys(report.metrics) as (keyof typeof METRICS)[]
  for (const id of ids) lines.push(...metricTable(report, id))
  lines.push(...costTable(report), ...rssTable(report))
  return lines.join('\n')
}
