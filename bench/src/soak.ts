// `node bench/dist/soak.js --jobs 10000000 [--retention-ms 60000] [--prune-interval-ms 2000]
//   [--backlog 100000] [--every 1000000] [--database-url URL] [--out tmp/soak.json]`:
// the soak of issue 15. Producers keep a backlog topped up with `enqueueMany` while one pgq worker
// (its defaults, unless the flags above say otherwise) drains it; every `--every` jobs (one million
// by default, a tenth of the run below two million) it records jobs/s, the claim statement's
// latency p50/p99 (timed around every `pgq_claim…` statement the worker sends), the size of the
// jobs table and each of its indexes, dead tuples, and the rows the pruner deleted. On demand only
// (not part of `pnpm bench`); figures in docs/benchmarks.md "Soak: 10 million jobs". Without a URL
// it starts its own embedded PostgreSQL, as the rest of bench/ does. `--jobs 200000` is the smoke.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { createPgq, defineTask, type WorkerOptions } from '@pgq/core'
import pg from 'pg'
import { startDatabase } from './database.js'
import { ident, sleep } from './sql-names.js'
import { ascending, percentile } from './stats.js'
import { gitRevision } from './versions.js'

const TASK = 'soak_noop'
const BATCH = 5_000

/** One checkpoint of the soak: the interval since the previous one, and the table at its end. */
export interface SoakCheckpoint {
  /** Jobs handled so far. */
  readonly jobs: number
  /** Seconds since the worker started. */
  readonly elapsedS: number
  /** Jobs handled per second over this interval. */
  readonly jobsPerSecond: number
  /** Claim statements sent in this interval, and their latency (client side: send → result). */
  readonly claims: number
  readonly claimP50Ms: number
  readonly claimP99Ms: number
  readonly claimMaxMs: number
  /** Jobs waiting (enqueued, not yet handled) at the checkpoint, as the producer counts them. */
  readonly backlog: number
  /** `pg_total_relation_size` of the jobs table (heap, TOAST and indexes), bytes. */
  readonly totalBytes: number
  /** Heap only, bytes. */
  readonly heapBytes: number
  /** Each index of the jobs table, bytes. */
  readonly indexBytes: Readonly<Record<string, number>>
  readonly liveTuples: number
  readonly deadTuples: number
  /** Rows deleted from the jobs table in this interval (the pruner is the only deleter here). */
  readonly deleted: number
  readonly autovacuums: number
  readonly loadAverage: readonly number[]
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(0)

/** Latencies of the worker's claim statements, timed around `pg.Client.prototype.query`. */
class ClaimTimer {
  #times: number[] = []

  install(): void {
    const times = () => this.#times
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
    const original = proto.query
    proto.query = function (this: unknown, ...args: unknown[]) {
      const config = args[0] as { name?: unknown } | undefined
      const isClaim =
        typeof config === 'object' &&
        config !== null &&
        typeof config.name === 'string' &&
        config.name.startsWith('pgq_claim')
      if (!isClaim) return original.apply(this, args)
      const start = performance.now()
      const last = args.length - 1
      const callback = args[last]
      if (typeof callback === 'function') {
        // pg.Pool#query passes a callback
        args[last] = (...result: unknown[]) => {
          times().push(performance.now() - start)
          return (callback as (...a: unknown[]) => unknown)(...result)
        }
        return original.apply(this, args)
      }
      const returned = original.apply(this, args) as Promise<unknown>
      return returned.then((value) => {
        times().push(performance.now() - start)
        return value
      })
    }
  }

  /** The latencies since the last call, and starts a new interval. */
  take(): number[] {
    const taken = this.#times
    this.#times = []
    return taken
  }
}

interface TableStats {
  totalBytes: number
  heapBytes: number
  indexBytes: Record<string, number>
  liveTuples: number
  deadTuples: number
  deletedTotal: number
  autovacuums: number
}

async function tableStats(pool: pg.Pool, schema: string): Promise<TableStats> {
  const table = `${ident(schema)}.jobs`
  const sizes = await pool.query<{ total: string; heap: string }>(
    `SELECT pg_total_relation_size($1::regclass) AS total, pg_relation_size($1::regclass) AS heap`,
    [table],
  )
  const indexes = await pool.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass ORDER BY c.relname`,
    [table],
  )
  await pool.query('SELECT pg_stat_clear_snapshot()')
  const stat = await pool.query<{ live: string; dead: string; del: string; av: string }>(
    `SELECT n_live_tup AS live, n_dead_tup AS dead, n_tup_del AS del, autovacuum_count AS av
     FROM pg_stat_user_tables WHERE relid = $1::regclass`,
    [table],
  )
  const s = stat.rows[0]
  return {
    totalBytes: Number(sizes.rows[0]!.total),
    heapBytes: Number(sizes.rows[0]!.heap),
    indexBytes: Object.fromEntries(indexes.rows.map((r) => [r.name, Number(r.bytes)])),
    liveTuples: Number(s?.live ?? 0),
    deadTuples: Number(s?.dead ?? 0),
    deletedTotal: Number(s?.del ?? 0),
    autovacuums: Number(s?.av ?? 0),
  }
}

/** The checkpoints as a markdown table (the one in docs/benchmarks.md). */
export function soakTable(checkpoints: readonly SoakCheckpoint[]): string {
  const indexNames = [...new Set(checkpoints.flatMap((c) => Object.keys(c.indexBytes)))]
  const short = (name: string) => name.replace(/^jobs_/, '').replace(/_idx$/, '')
  const header = [
    'jobs done',
    'jobs/s',
    'claims',
    'claim p50 / p99 ms',
    'table total MB',
    'heap MB',
    ...indexNames.map((n) => `${short(n)} MB`),
    'live / dead tuples',
    'pruned',
    'load avg',
  ]
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`]
  for (const c of checkpoints) {
    lines.push(
      `| ${[
        `${(c.jobs / 1e6).toFixed(c.jobs % 1e6 === 0 ? 0 : 2)}M`,
        Math.round(c.jobsPerSecond).toLocaleString('en-US'),
        c.claims.toLocaleString('en-US'),
        `${c.claimP50Ms.toFixed(2)} / ${c.claimP99Ms.toFixed(2)}`,
        mb(c.totalBytes),
        mb(c.heapBytes),
        ...indexNames.map((n) => mb(c.indexBytes[n] ?? 0)),
        `${(c.liveTuples / 1e6).toFixed(2)}M / ${(c.deadTuples / 1e3).toFixed(0)}k`,
        c.deleted.toLocaleString('en-US'),
        c.loadAverage[0]!.toFixed(1),
      ].join(' | ')} |`,
    )
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '10000000' },
      every: { type: 'string' },
      backlog: { type: 'string', default: '100000' },
      'retention-ms': { type: 'string' },
      'prune-interval-ms': { type: 'string' },
      'database-url': { type: 'string' },
      out: { type: 'string' },
    },
  })
  const jobs = Number(values.jobs)
  if (!Number.isInteger(jobs) || jobs < BATCH) throw new Error(`--jobs must be an integer ≥ ${BATCH}`)
  const every = Number(values.every ?? (jobs >= 2_000_000 ? 1_000_000 : Math.max(BATCH, jobs / 10)))
  const backlogTarget = Number(values.backlog)
  const workerOptions: Omit<WorkerOptions, 'tasks'> = {
    ...(values['retention-ms'] ? { retention: { succeeded: Number(values['retention-ms']) } } : {}),
    ...(values['prune-interval-ms'] ? { pruneIntervalMs: Number(values['prune-interval-ms']) } : {}),
  }
  if (values['database-url']) process.env.DATABASE_URL = values['database-url']

  const timer = new ClaimTimer()
  timer.install()
  const database = await startDatabase()
  const schema = `soak_${randomBytes(3).toString('hex')}`
  const statsPool = new pg.Pool({ connectionString: database.url, max: 1 })
  statsPool.on('error', () => {})
  const producer = createPgq({ connectionString: database.url, schema, poolSize: 2 })
  const workerClient = createPgq({ connectionString: database.url, schema })
  const revision = gitRevision()
  console.log(
    `soak: ${jobs.toLocaleString('en-US')} jobs on ${database.source}, schema ${schema}, pgq at ${revision}`,
  )
  console.log(
    `worker: defaults${Object.keys(workerOptions).length ? ` + ${JSON.stringify(workerOptions)}` : ''}; backlog kept at ${backlogTarget.toLocaleString('en-US')} (enqueueMany of ${BATCH}); checkpoint every ${every.toLocaleString('en-US')} jobs`,
  )
  const checkpoints: SoakCheckpoint[] = []
  try {
    await producer.migrate()
    const version = await statsPool.query<{ v: string }>('SELECT version() AS v')
    console.log(version.rows[0]!.v)
    let enqueued = 0
    let handled = 0
    const enqueueBatch = async () => {
      const n = Math.min(BATCH, jobs - enqueued)
      const base = enqueued
      enqueued += n
      await producer.enqueueMany(
        Array.from({ length: n }, (_, k) => ({ task: TASK, payload: { i: base + k } })),
      )
    }
    while (enqueued < Math.min(backlogTarget, jobs)) await enqueueBatch()

    let nextCheckpoint = every
    let pending: Promise<void> = Promise.resolve()
    let previous = { at: 0, jobs: 0, deleted: (await tableStats(statsPool, schema)).deletedTotal }
    let startedAt = 0
    let finish: () => void = () => {}
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    const checkpoint = (at: number, jobsDone: number) => {
      const claims = ascending(timer.take())
      const backlog = enqueued - jobsDone
      // one at a time, in order: a slow stats query must not reorder the rows
      pending = pending.then(async () => {
        const stats = await tableStats(statsPool, schema)
        const row: SoakCheckpoint = {
          jobs: jobsDone,
          elapsedS: (at - startedAt) / 1000,
          jobsPerSecond: (jobsDone - previous.jobs) / ((at - previous.at) / 1000),
          claims: claims.length,
          claimP50Ms: percentile(claims, 50),
          claimP99Ms: percentile(claims, 99),
          claimMaxMs: claims[claims.length - 1] ?? Number.NaN,
          backlog,
          totalBytes: stats.totalBytes,
          heapBytes: stats.heapBytes,
          indexBytes: stats.indexBytes,
          liveTuples: stats.liveTuples,
          deadTuples: stats.deadTuples,
          deleted: stats.deletedTotal - previous.deleted,
          autovacuums: stats.autovacuums,
          loadAverage: loadavg(),
        }
        previous = { at, jobs: jobsDone, deleted: stats.deletedTotal }
        checkpoints.push(row)
        console.log(
          `${jobsDone.toLocaleString('en-US')} jobs, ${row.elapsedS.toFixed(0)} s: ${Math.round(row.jobsPerSecond).toLocaleString('en-US')} jobs/s; claim p50 ${row.claimP50Ms.toFixed(2)} / p99 ${row.claimP99Ms.toFixed(2)} / max ${row.claimMaxMs.toFixed(1)} ms (${row.claims} claims); jobs ${mb(row.totalBytes)} MB (heap ${mb(row.heapBytes)}), live ${row.liveTuples}, dead ${row.deadTuples}, pruned ${row.deleted}, autovacuums ${row.autovacuums}; load ${row.loadAverage.map((l) => l.toFixed(1)).join(' ')}`,
        )
      })
    }
    const task = defineTask({
      name: TASK,
      handler: async () => {
        handled++
        if (handled === nextCheckpoint) {
          nextCheckpoint += every
          checkpoint(performance.now(), handled)
        }
        if (handled === jobs) finish()
      },
    })
    const worker = workerClient.createWorker({ tasks: [task], ...workerOptions })
    worker.on('worker:error', ({ component, error }) => {
      process.stderr.write(`pgq worker:error ${component}: ${error.message}\n`)
    })
    timer.take()
    startedAt = performance.now()
    previous.at = startedAt
    await worker.start()
    // keep the backlog topped up until every job is enqueued
    while (enqueued < jobs) {
      if (enqueued - handled < backlogTarget) await enqueueBatch()
      else await sleep(20)
    }
    await finished
    await pending
    await worker.stop()
    const seconds = (performance.now() - startedAt) / 1000
    const end = await tableStats(statsPool, schema)
    console.log(
      `\n${jobs.toLocaleString('en-US')} jobs in ${seconds.toFixed(0)} s (${Math.round(jobs / seconds).toLocaleString('en-US')} jobs/s overall); at the end: jobs ${mb(end.totalBytes)} MB, live ${end.liveTuples}, dead ${end.deadTuples}\n`,
    )
    console.log(soakTable(checkpoints))
    if (values.out) {
      writeFileSync(
        values.out,
        `${JSON.stringify({ jobs, every, backlogTarget, workerOptions, revision, database: database.source, seconds, checkpoints }, null, 2)}\n`,
      )
      console.log(`\nwrote ${values.out}`)
    }
  } finally {
    await producer.close()
    await workerClient.close()
    await statsPool.end()
    await database.stop()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
    process.exit(1)
  },
)
