// `pnpm bench [--quick] [--systems pgq,raw-sql] [--metrics drainBest,…] [--out docs/benchmarks.md]`: runs the suite and
// writes docs/benchmarks.md + docs/benchmarks.json (paths relative to the repository root).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { FULL, QUICK } from './config.js'
import { harnessPool, serverSettings, startDatabase } from './database.js'
import { redisAnswers } from './redis.js'
import { buildReport } from './report.js'
import { runSuite } from './suite.js'
import { DEFAULT_SYSTEMS, SYSTEM_NAMES, type SystemName } from './systems/index.js'
import { BENCH_ROOT, gitRevision } from './versions.js'
import { writeReport } from './write-report.js'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      systems: { type: 'string' },
      out: { type: 'string', default: 'docs/benchmarks.md' },
      // e.g. --metrics drainBest,drainBestKeys --out tmp/limits.md: a focused run (not for docs/)
      metrics: { type: 'string' },
    },
  })
  const config = values.quick ? QUICK : FULL
  const repoRoot = join(BENCH_ROOT, '..')
  const markdownPath = join(repoRoot, values.out)
  const jsonPath = markdownPath.replace(/\.md$/, '.json')
  let names = (values.systems?.split(',') ?? [...DEFAULT_SYSTEMS]) as SystemName[]
  for (const name of names) {
    if (!SYSTEM_NAMES.includes(name))
      throw new Error(`unknown system "${name}"; known: ${SYSTEM_NAMES.join(', ')}`)
  }
  const skipped: string[] = []
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const redisOk = names.includes('bullmq') && (await redisAnswers(redisUrl))
  if (names.includes('bullmq') && !redisOk) {
    skipped.push(`bullmq (no Redis answered at ${redisUrl}; set REDIS_URL)`)
    console.log(`bullmq: skipped, no Redis answered at ${redisUrl} (set REDIS_URL)`)
    names = names.filter((n) => n !== 'bullmq')
  }
  const t0 = performance.now()
  // Taken now, next to the build that `pnpm bench` just ran, not after a run others may commit during.
  const pgqRevision = gitRevision()
  const db = await startDatabase()
  console.log(`pgq bench, ${config.mode} mode, on ${db.source}`)
  const pool = harnessPool(db.url)
  try {
    const settings = await serverSettings(pool)
    const env = {
      databaseUrl: db.url,
      redisUrl: redisOk ? redisUrl : null,
      suffix: `_${randomBytes(3).toString('hex')}`,
    }
    const metrics = values.metrics?.split(',')
    const run = await runSuite({
      config,
      env,
      systems: names,
      harnessPool: pool,
      log: (l) => console.log(l),
      ...(metrics ? { metrics } : {}),
    })
    const report = buildReport(run, {
      config,
      databaseSource: db.source,
      settings,
      pgqRevision,
      skipped,
    })
    writeReport(report, markdownPath, jsonPath)
    console.log('\nTargets:')
    for (const t of report.targets) {
      console.log(
        `  ${t.met === null ? '  -' : t.met ? ' ok' : 'MISS'}  ${t.measurement}: ${t.target} — ${t.measured}`,
      )
    }
    console.log(
      `\nwrote ${markdownPath} and ${jsonPath} in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    )
  } finally {
    await pool.end()
    await db.stop()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error)
    process.exit(1)
  },
)
