// The worker, enqueue and waitFor paths through PgBouncer in transaction mode (Debian's package,
// started by the test; see pgbouncer-server.ts for the settings docs/operations.md documents).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgq, type Pgq } from '../src/client/pgq.js'
import { probePooler } from '../src/db/pooler-probe.js'
import { createLineLogger } from '../src/logger.js'
import { defineTask } from '../src/task/task.js'
import { type PgBouncer, startPgBouncer } from './pgbouncer-server.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let bouncer: PgBouncer

beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(`CREATE TABLE "${t.schema}".effects (job_id bigint PRIMARY KEY, runs int NOT NULL)`)
  bouncer = await startPgBouncer(t.url)
})
afterAll(async () => {
  await bouncer?.stop()
  await t.drop()
})

/** A handler whose side effect is keyed by job id: a second run would bump `runs`. */
const effect = defineTask({
  name: 'effect',
  handler: async (_payload: { n: number }, ctx) => {
    await t.pool.query(
      `INSERT INTO "${t.schema}".effects (job_id, runs) VALUES ($1, 1)
       ON CONFLICT (job_id) DO UPDATE SET runs = effects.runs + 1`,
      [ctx.jobId],
    )
    return { job: ctx.jobId }
  },
})

/** What PostgreSQL says when a named statement meets the wrong server connection. */
const STATEMENT_ERROR = /prepared statement \\?"pgq_\w+\\?" (does not exist|already exists)/
const POOLER_LINE = /transaction-mode pooler detected|a pooler lost a named prepared statement/

function capturingLogger() {
  const lines: string[] = []
  return { lines, logger: createLineLogger('debug', (line) => lines.push(line)) }
}

async function pooledClient(options: { listen: boolean }): Promise<Pgq> {
  return createPgq({
    connectionString: bouncer.url,
    schema: t.schema,
    ...(options.listen ? { listenConnectionString: t.url } : {}),
  })
}

describe('PgBouncer in transaction mode', () => {
  it('the probe tells a transaction pooler that loses prepared statements from a direct server', async () => {
    expect(await probePooler({ connectionString: bouncer.url })).toEqual({
      transactionPooling: true,
      preparedStatementsWork: false,
    })
    expect(await probePooler({ connectionString: t.url })).toEqual({
      transactionPooling: false,
      preparedStatementsWork: true,
    })
  })

  it('single enqueues through it: named statements fall back to unnamed ones; preparedStatements: false never names them', async () => {
    await t.pool.query(`TRUNCATE "${t.schema}".jobs`)
    for (const preparedStatements of [true, false]) {
      const pgq = createPgq({
        connectionString: bouncer.url,
        schema: t.schema,
        preparedStatements,
        poolSize: 4,
      })
      try {
        // concurrent enqueues spread over the pool's connections and PgBouncer's server connections
        const jobs = await Promise.all(Array.from({ length: 40 }, (_, n) => pgq.enqueue(effect, { n })))
        expect(new Set(jobs.map((j) => j.id)).size).toBe(40)
      } finally {
        await pgq.close()
      }
    }
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs`)).rows[0].n).toBe(80)
  })

  it('with default settings: jobs run exactly once, one warning and no prepared-statement errors, waitFor is woken via the direct LISTEN URL', async () => {
    await t.pool.query(`TRUNCATE "${t.schema}".jobs, "${t.schema}".effects`)
    const pgq = await pooledClient({ listen: true })
    const { lines, logger } = capturingLogger()
    const workers = [1, 2].map(() =>
      pgq.createWorker({ tasks: [effect], concurrency: 10, pollIntervalMs: 60_000, logger }),
    )
    const errors: unknown[] = []
    for (const worker of workers) worker.on('worker:error', (e) => errors.push(e.error.message))
    try {
      for (const worker of workers) await worker.start()
      // enqueue through PgBouncer, from TypeScript and from SQL
      await pgq.enqueueMany(Array.from({ length: 300 }, (_, n) => ({ task: effect, payload: { n } })))
      const sql = new pg.Client({ connectionString: bouncer.url })
      await sql.connect()
      await sql.query(`SELECT "${t.schema}".enqueue('effect', '{"n": -1}'::jsonb)`)
      await sql.end()
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state = 'succeeded'`))
            .rows[0].n === 301,
        30_000,
        '301 jobs succeeded',
      )
      // waitFor's poll fallback is 5 s: a prompt answer comes from the LISTEN on the direct URL
      const latencies: number[] = []
      for (let n = 0; n < 5; n++) {
        const started = Date.now()
        const job = await pgq.enqueue(effect, { n: 1000 + n })
        expect(await pgq.jobs.waitFor(job.id, { timeoutMs: 4_000 })).toEqual({ job: job.id })
        latencies.push(Date.now() - started)
      }
      expect(Math.max(...latencies)).toBeLessThan(1_500)
      // one process, two workers and a waiter: one LISTEN connection, straight to PostgreSQL
      const listeners = await t.pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgq_listener' AND query LIKE $1`,
        [`LISTEN "${t.schema}:%`],
      )
      expect(listeners.rows[0].n).toBe(1)
    } finally {
      for (const worker of workers) await worker.stop()
      await pgq.close()
    }
    const effects = await t.pool.query(
      `SELECT count(*)::int AS jobs, max(runs) AS most FROM "${t.schema}".effects`,
    )
    expect(effects.rows[0]).toEqual({ jobs: 306, most: 1 })
    expect(errors).toEqual([])
    const log = lines.join('')
    // one line per worker: the start-up probe's (or, had it missed the pooler, the safety net's)
    expect(lines.filter((l) => POOLER_LINE.test(l))).toHaveLength(2)
    expect(lines.filter((l) => STATEMENT_ERROR.test(l) && !POOLER_LINE.test(l))).toEqual([])
    expect(lines.filter((l) => / error /.test(l))).toEqual([])
    expect(log).not.toContain('LISTEN goes through a transaction-mode pooler')
  })

  it('without a direct LISTEN URL the worker says so once, and still runs jobs by polling', async () => {
    await t.pool.query(`TRUNCATE "${t.schema}".jobs, "${t.schema}".effects`)
    const pgq = await pooledClient({ listen: false })
    const { lines, logger } = capturingLogger()
    const worker = pgq.createWorker({ tasks: [effect], pollIntervalMs: 100, logger })
    try {
      await worker.start()
      const job = await pgq.enqueue(effect, { n: 1 })
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [job.id])).rows[0]
            .state === 'succeeded',
        10_000,
        'job succeeded by polling',
      )
    } finally {
      await worker.stop()
      await pgq.close()
    }
    expect(lines.filter((l) => l.includes('LISTEN goes through a transaction-mode pooler'))).toHaveLength(1)
    expect(lines.join('')).not.toMatch(STATEMENT_ERROR)
  })

  it('preparedStatements: true through PgBouncer 1.18: the first lost statement turns them off, with one line', async () => {
    await t.pool.query(`TRUNCATE "${t.schema}".jobs, "${t.schema}".effects`)
    const pgq = await pooledClient({ listen: true })
    const { lines, logger } = capturingLogger()
    const workers = [1, 2].map(() =>
      pgq.createWorker({
        tasks: [effect],
        concurrency: 10,
        preparedStatements: true,
        pollIntervalMs: 50,
        logger,
      }),
    )
    try {
      for (const worker of workers) await worker.start()
      await pgq.enqueueMany(Array.from({ length: 300 }, (_, n) => ({ task: effect, payload: { n } })))
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state = 'succeeded'`))
            .rows[0].n === 300,
        30_000,
        '300 jobs succeeded',
      )
    } finally {
      for (const worker of workers) await worker.stop()
      await pgq.close()
    }
    const effects = await t.pool.query(
      `SELECT count(*)::int AS jobs, max(runs) AS most FROM "${t.schema}".effects`,
    )
    expect(effects.rows[0]).toEqual({ jobs: 300, most: 1 })
    expect(
      lines.filter((l) => l.includes('a pooler lost a named prepared statement')).length,
    ).toBeLessThanOrEqual(2)
    expect(lines.filter((l) => l.includes(' error '))).toEqual([])
  })
})
