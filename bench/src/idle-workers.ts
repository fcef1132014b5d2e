// `node bench/dist/idle-workers.js --workers 100 [--pgbouncer] [--jobs 20] [--database-url URL]`:
// N idle pgq worker processes on one PostgreSQL — connections held, and what one enqueued job
// costs when every worker is woken for it. On demand only (not part of `pnpm bench`); see
// docs/benchmarks.md "Idle workers". Without a URL it starts its own embedded PostgreSQL, sized
// for the workers (a shared server's max_connections of 100 would not hold 100 workers).
import { parseArgs } from 'node:util'
import { startDatabase } from './database.js'
import { type IdleWorkersResult, measureIdleWorkers } from './idle-workers-measure.js'
import { type BenchPgBouncer, startBenchPgBouncer } from './pgbouncer.js'

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–')
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–')

/** The run as a markdown table row (see docs/benchmarks.md for the header). */
function row(r: IdleWorkersResult): string {
  return `| ${r.workers} | ${r.pgbouncer ? 'PgBouncer' : 'direct'} | ${r.backends} | ${f2(r.backendsPerWorker)} | ${
    r.pgbouncerClients ?? '–'
  } | ${f1(r.idlePerSecond.claims)} | ${f1(r.perJob.claims)} | ${f1(r.perJob.emptyClaims)} | ${f1(
    r.perJob.statements,
  )} | ${f1(r.latencyP50Ms)} / ${f1(r.latencyP99Ms)} | ${r.winners} |`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '100' },
      jobs: { type: 'string', default: '20' },
      'settle-ms': { type: 'string', default: '12000' },
      pgbouncer: { type: 'boolean', default: false },
      'database-url': { type: 'string' },
    },
  })
  const workers = Number(values.workers)
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer`)
  if (values['database-url']) process.env.DATABASE_URL = values['database-url']
  const database = await startDatabase({ max_connections: String(Math.max(300, workers * 4 + 50)) })
  let pgbouncer: BenchPgBouncer | undefined
  try {
    if (values.pgbouncer) pgbouncer = await startBenchPgBouncer(database.url, workers * 12 + 50)
    console.log(`database: ${database.source}${pgbouncer ? `; ${pgbouncer.version}, transaction mode` : ''}`)
    const result = await measureIdleWorkers({
      databaseUrl: database.url,
      workers,
      jobs: Number(values.jobs),
      settleMs: Number(values['settle-ms']),
      ...(pgbouncer ? { pgbouncer } : {}),
      log: (line) => console.log(line),
    })
    console.log(JSON.stringify(result, null, 2))
    console.log(
      '| workers | pool | backends | per worker | PgBouncer clients | idle claims/s | claims/job | empty claims/job | statements/job | latency p50 / p99 ms | workers that ran a job |',
    )
    console.log('|---|---|---|---|---|---|---|---|---|---|---|')
    console.log(row(result))
  } finally {
    await pgbouncer?.stop()
    await database.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
