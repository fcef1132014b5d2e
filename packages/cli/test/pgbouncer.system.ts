// `pgq work` processes, enqueue (TypeScript and SQL) and waitFor, all through PgBouncer in
// transaction mode (Debian's package, started by the test with the settings docs/operations.md
// documents), LISTEN straight to PostgreSQL via --listen-url.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgq } from '../../pgq/src/client/pgq.js'
import { type PgBouncer, startPgBouncer } from '../../pgq/test/pgbouncer-server.js'
import { createTestSchema, type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import { createSideEffectTables, startWorkerProcess, type WorkerProcess } from './worker-process.js'

let t: TestSchema
let bouncer: PgBouncer
const processes: WorkerProcess[] = []

beforeAll(async () => {
  t = await createTestSchema()
  await createSideEffectTables(t)
  bouncer = await startPgBouncer(t.url)
})
afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL')
  await bouncer?.stop()
  await t.drop()
})

/** PostgreSQL's words when a named statement meets the wrong server connection (the log escapes quotes). */
const STATEMENT_ERROR = /prepared statement \\?"pgq_\w+\\?" (does not exist|already exists)/
const POOLER_LINE = /transaction-mode pooler detected|a pooler lost a named prepared statement/

describe('pgq work through PgBouncer (transaction mode)', () => {
  it('two workers with default settings: every job runs once, no prepared-statement errors, waitFor answers promptly', async () => {
    for (let i = 0; i < 2; i++) {
      processes.push(
        await startWorkerProcess(
          ['--schema', t.schema, '--database-url', bouncer.url, '--listen-url', t.url, '--concurrency', '10'],
          { DATABASE_URL: t.url, PGQ_SCHEMA: t.schema },
        ),
      )
    }
    const pgq = createPgq({ connectionString: bouncer.url, listenConnectionString: t.url, schema: t.schema })
    try {
      await pgq.enqueueMany(Array.from({ length: 400 }, () => ({ task: 'record', payload: {} })))
      await pgq.pool.query(`SELECT "${t.schema}".enqueue('record', '{}'::jsonb) FROM generate_series(1, 100)`)
      await waitFor(
        async () =>
          (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs WHERE state = 'succeeded'`))
            .rows[0].n === 500,
        60_000,
        '500 jobs succeeded',
      )
      const latencies: number[] = []
      for (let n = 0; n < 5; n++) {
        const started = Date.now()
        const job = await pgq.enqueue('record', {})
        await pgq.jobs.waitFor(job.id, { timeoutMs: 4_000 }) // its poll fallback is 5 s
        latencies.push(Date.now() - started)
      }
      expect(Math.max(...latencies)).toBeLessThan(1_500)
    } finally {
      await pgq.close()
    }
    const runs = await t.pool.query(
      `SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS jobs FROM "${t.schema}".runs`,
    )
    expect(runs.rows[0]).toEqual({ runs: 505, jobs: 505 })
    for (const p of processes.splice(0)) {
      p.kill('SIGTERM')
      expect(await p.exited).toBe(0)
      const log = p.log()
      const lines = log.split('\n')
      // one line per worker: the start-up probe's (or, had it missed the pooler, the safety net's)
      expect(lines.filter((l) => POOLER_LINE.test(l))).toHaveLength(1)
      expect(lines.filter((l) => STATEMENT_ERROR.test(l) && !POOLER_LINE.test(l))).toEqual([])
      expect(lines.filter((l) => / error /.test(l))).toEqual([])
      expect(log).not.toContain('LISTEN goes through a transaction-mode pooler')
    }
  })
})
