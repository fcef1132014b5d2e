// Times the dashboard's queries on a synthetic jobs table (not part of the test suite).
//
//   DATABASE_URL=postgres://… node packages/dashboard/scripts/query-timings.mjs [rows=1000000]
//
// Builds schema `dash_timings` (dropped at the end) with `rows` jobs spread over two days, mostly
// finished: 90 % succeeded, 4 % failed, 1 % cancelled, 3 % waiting, 1 % scheduled, 1 % running,
// over 8 queues and 20 tasks; then runs each statement 7 times and prints the median in ms.
// KEEP=1 leaves the schema in place (for EXPLAIN).
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createPgq } from '@pgq/core'
import { finishedPerMinute, jobsLive, liveWorkers, queueCounts } from '../dist/sql/dashboard-queries.js'
import { searchJobs } from '../dist/sql/job-search-queries.js'

const rows = Number(process.argv[2] ?? 1_000_000)
const schema = 'dash_timings'
const pgq = createPgq({ connectionString: process.env.DATABASE_URL, schema })
const pool = pgq.pool
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
await pgq.migrate()
const worker = randomUUID()
await pool.query(
  `INSERT INTO ${schema}.workers (id, hostname, pid, queues, concurrency) VALUES ($1, 'bench', 1, '{q0,q1}', 10)`,
  [worker],
)
const started = performance.now()
await pool.query(
  `INSERT INTO ${schema}.jobs (queue, task, payload, state, run_at, created_at, started_at, finished_at,
     delete_after, attempts, errors, locked_by, lease_token, lease_expires_at)
   SELECT 'q' || (i % 8), 'task_' || (i % 20), jsonb_build_object('user', i, 'email', 'user' || i || '@example.com'),
     s.state, s.created + CASE WHEN s.state = 'scheduled' THEN interval '1 day' ELSE interval '0' END, s.created,
     CASE WHEN s.state IN ('succeeded', 'failed', 'cancelled', 'running') THEN s.created END,
     CASE WHEN s.state IN ('succeeded', 'failed', 'cancelled') THEN s.created + interval '1 second' END,
     CASE WHEN s.state IN ('succeeded', 'failed', 'cancelled') THEN s.created + interval '3 days' END,
     CASE WHEN s.state IN ('succeeded', 'failed', 'running') THEN 1 ELSE 0 END,
     CASE WHEN s.state = 'failed' THEN jsonb_build_array(jsonb_build_object('attempt', 1, 'at', s.created, 'message', 'timeout talking to smtp ' || i)) ELSE '[]'::jsonb END,
     CASE WHEN s.state = 'running' THEN $2::uuid END,
     CASE WHEN s.state = 'running' THEN gen_random_uuid() END,
     CASE WHEN s.state = 'running' THEN now() + interval '1 minute' END
   FROM generate_series(1, $1::int) AS i
   CROSS JOIN LATERAL (SELECT
     CASE WHEN i % 100 < 90 THEN 'succeeded' WHEN i % 100 < 94 THEN 'failed' WHEN i % 100 < 95 THEN 'cancelled'
          WHEN i % 100 < 98 THEN 'available' WHEN i % 100 < 99 THEN 'scheduled' ELSE 'running' END AS state0,
     now() - interval '2 days' + (interval '2 days' * i / $1::int) AS created) AS s0
   CROSS JOIN LATERAL (SELECT CASE WHEN s0.state0 = 'scheduled' THEN 'available' ELSE s0.state0 END AS state,
     s0.created, s0.state0) AS s`,
  [rows, worker],
)
await pool.query(`VACUUM ANALYZE ${schema}.jobs`)
console.log(`${rows} jobs inserted in ${Math.round(performance.now() - started)} ms`)

const names = pgq.names
const top = (await pool.query(`SELECT max(id)::text AS id FROM ${schema}.jobs`)).rows[0].id
const search = {
  states: [],
  queues: [],
  tasks: [],
  createdFrom: null,
  createdTo: null,
  text: null,
  before: null,
  limit: 50,
}
const cases = {
  'overview: queue counts (live feed too)': () => queueCounts(pool, names),
  'overview: finished per minute, last hour': () => finishedPerMinute(pool, names, 60),
  'jobs: newest page, no filter': () => searchJobs(pool, names, search),
  'jobs: page 100 deep (keyset)': () =>
    searchJobs(pool, names, { ...search, before: String(Number(top) - 5_000) }),
  'jobs: state=failed': () => searchJobs(pool, names, { ...search, states: ['failed'] }),
  'jobs: state=running': () => searchJobs(pool, names, { ...search, states: ['running'] }),
  'jobs: queue=q3 task=task_3': () =>
    searchJobs(pool, names, { ...search, queues: ['q3'], tasks: ['task_3'] }),
  'jobs: free text (one window)': () => searchJobs(pool, names, { ...search, text: 'user4242@' }),
  'jobs: created in a past hour (one window)': () =>
    searchJobs(pool, names, {
      ...search,
      createdFrom: new Date(Date.now() - 30 * 3600_000),
      createdTo: new Date(Date.now() - 29 * 3600_000),
    }),
  'job detail: pgq.jobs.get': () => pgq.jobs.get(String(Number(top) - 7)),
  'workers: live with running counts': () => liveWorkers(pool, names, 60_000),
  'live: 200 jobs by id': () =>
    jobsLive(
      pool,
      names,
      Array.from({ length: 200 }, (_, i) => String(Number(top) - i)),
    ),
}
for (const [label, run] of Object.entries(cases)) {
  const times = []
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now()
    await run()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  console.log(
    `${label.padEnd(44)} median ${times[3].toFixed(1).padStart(7)} ms   max ${times[6].toFixed(1).padStart(7)} ms`,
  )
}
if (!process.env.KEEP) await pool.query(`DROP SCHEMA ${schema} CASCADE`) // KEEP=1 leaves it for EXPLAIN
await pgq.close()
