// The exported Kysely table types match the migrated schema (every column of every table and view,
// no more) and the values node-postgres returns; a wrong column does not compile.
import { Kysely, PostgresDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import type {
  DedupWindowsTable,
  FailingTasksView,
  JobCountsView,
  JobDependenciesTable,
  JobState,
  JobsTable,
  MigrationsTable,
  PgqDatabase,
  QueueKeyBucketsTable,
  QueueLagView,
  QueueStatusView,
  QueuesTable,
  RunningJobsView,
  SchedulesTable,
  TasksTable,
  UnknownTasksView,
  WorkerStatusView,
  WorkersTable,
  WorkflowJobsView,
  WorkflowNodesTable,
  WorkflowsTable,
} from '../src/index.js'
import { createTestSchema, type TestSchema } from './test-database.js'

let t: TestSchema
let db: Kysely<PgqDatabase<string>>
beforeAll(async () => {
  t = await createTestSchema()
  db = new Kysely({ dialect: new PostgresDialect({ pool: t.pool }) })
})
afterAll(async () => {
  await t.drop()
})

/** Every column of `T`, listed (the compiler rejects a missing or unknown one). */
const columns = <T>(record: { [K in keyof T]-?: true }) => Object.keys(record).sort()

const EXPECTED: Record<string, string[]> = {
  jobs: columns<JobsTable>({
    id: true,
    queue: true,
    task: true,
    payload: true,
    state: true,
    priority: true,
    run_at: true,
    attempts: true,
    max_attempts: true,
    interruptions: true,
    max_interruptions: true,
    locked_by: true,
    lease_token: true,
    lease_expires_at: true,
    started_at: true,
    cancel_requested_at: true,
    result: true,
    progress: true,
    errors: true,
    dedup_key: true,
    schedule_name: true,
    scheduled_for: true,
    meta: true,
    created_at: true,
    finished_at: true,
    delete_after: true,
    followup: true,
    workflow_id: true,
    steps: true,
    last_worker: true,
    concurrency_key: true,
    expires_at: true,
  }),
  workflows: columns<WorkflowsTable>({
    id: true,
    name: true,
    policy: true,
    output_ids: true,
    output_list: true,
    node_ids: true,
    created_at: true,
    cancelled_at: true,
  }),
  workflow_nodes: columns<WorkflowNodesTable>({
    job_id: true,
    workflow_id: true,
    pending: true,
    failed: true,
    input: true,
  }),
  job_dependencies: columns<JobDependenciesTable>({ parent_id: true, job_id: true, position: true }),
  workflow_jobs: columns<WorkflowJobsView>({
    workflow_id: true,
    job_id: true,
    task: true,
    queue: true,
    state: true,
    attempts: true,
    parent_ids: true,
    pending_parents: true,
    created_at: true,
    started_at: true,
    finished_at: true,
  }),
  tasks: columns<TasksTable>({
    name: true,
    queue: true,
    priority: true,
    max_attempts: true,
    backoff: true,
    timeout_ms: true,
    hard_timeout_grace_ms: true,
    dead_letter_queue: true,
    payload_schema: true,
    validates_payload: true,
    first_seen_at: true,
    last_seen_at: true,
    last_seen_by: true,
    last_seen_hostname: true,
    concurrency_key_path: true,
    expire_in_ms: true,
  }),
  dedup_windows: columns<DedupWindowsTable>({ task: true, dedup_key: true, until: true, job_id: true }),
  unknown_tasks: columns<UnknownTasksView>({
    task: true,
    queue: true,
    waiting: true,
    oldest_created_at: true,
  }),
  workers: columns<WorkersTable>({
    id: true,
    hostname: true,
    pid: true,
    queues: true,
    concurrency: true,
    meta: true,
    started_at: true,
    heartbeat_at: true,
    stopped_at: true,
    stop_reason: true,
    heartbeat_ms: true,
  }),
  queues: columns<QueuesTable>({
    name: true,
    paused: true,
    concurrency: true,
    rate_limit: true,
    rate_interval_ms: true,
    tokens: true,
    tokens_at: true,
    limited: true,
    key_concurrency: true,
    ordered: true,
    key_cursor: true,
    key_rate_limit: true,
    key_rate_interval_ms: true,
    updated_at: true,
  }),
  queue_status: columns<QueueStatusView>({
    queue: true,
    paused: true,
    concurrency: true,
    rate_limit: true,
    rate_interval_ms: true,
    running: true,
    waiting: true,
    key_concurrency: true,
    ordered: true,
    key_rate_limit: true,
    key_rate_interval_ms: true,
  }),
  worker_status: columns<WorkerStatusView>({
    id: true,
    hostname: true,
    pid: true,
    queues: true,
    concurrency: true,
    started_at: true,
    heartbeat_at: true,
    stopped_at: true,
    status: true,
    running_jobs: true,
  }),
  schedules: columns<SchedulesTable>({
    name: true,
    cron: true,
    timezone: true,
    task: true,
    payload: true,
    queue: true,
    priority: true,
    max_attempts: true,
    missed: true,
    backfill_limit: true,
    paused: true,
    source: true,
    next_run_at: true,
    last_run_at: true,
    last_job_id: true,
    error: true,
    created_at: true,
    updated_at: true,
  }),
  migrations: columns<MigrationsTable>({ version: true, name: true, applied_at: true }),
  queue_key_buckets: columns<QueueKeyBucketsTable>({ queue: true, key: true, tokens: true, tokens_at: true }),
  job_counts: columns<JobCountsView>({ queue: true, state: true, jobs: true }),
  queue_lag: columns<QueueLagView>({
    queue: true,
    waiting: true,
    scheduled: true,
    oldest_waiting_since: true,
    lag: true,
  }),
  failing_tasks: columns<FailingTasksView>({
    task: true,
    failed: true,
    retrying: true,
    last_failed_at: true,
    last_error: true,
  }),
  running_jobs: columns<RunningJobsView>({
    id: true,
    task: true,
    queue: true,
    attempts: true,
    max_attempts: true,
    started_at: true,
    running_for: true,
    lease_expires_at: true,
    lease_remaining: true,
    cancel_requested_at: true,
    progress: true,
    worker_id: true,
    worker_hostname: true,
    worker_pid: true,
    worker_heartbeat_at: true,
  }),
}

describe('PgqDatabase', () => {
  it('names every table and view of the migrated schema with exactly its columns', async () => {
    const { rows } = await t.pool.query<{ table_name: string; columns: string[] }>(
      `SELECT table_name, array_agg(column_name::text ORDER BY column_name::text) AS columns
       FROM information_schema.columns WHERE table_schema = $1 GROUP BY table_name`,
      [t.schema],
    )
    const actual = Object.fromEntries(rows.map((r) => [r.table_name, [...r.columns].sort()]))
    expect(actual).toEqual(EXPECTED)
  })

  it('reads jobs with the types it declares (ids as strings, timestamps as Dates, JSON parsed)', async () => {
    const { id } = await t.pgq.enqueue('typed', { n: 1 })
    const row = await db
      .selectFrom(`${t.schema}.jobs`)
      .select(['id', 'state', 'run_at', 'payload', 'errors', 'finished_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({
      id,
      state: 'available',
      run_at: expect.any(Date),
      payload: { n: 1 },
      errors: [],
      finished_at: null,
    })
  })

  it('types the columns for the compiler', () => {
    const jobs = new Kysely<PgqDatabase>({ dialect: new PostgresDialect({ pool: t.pool }) })
    const query = jobs.selectFrom('pgq.jobs').select(['id', 'state', 'run_at', 'finished_at'])
    expectTypeOf<Awaited<ReturnType<typeof query.executeTakeFirstOrThrow>>>().toEqualTypeOf<{
      id: string
      state: JobState
      run_at: Date
      finished_at: Date | null
    }>()
    // a schedule's queue and priority are null when they follow the task (migration 0007)
    const schedule = jobs.selectFrom('pgq.schedules').select(['queue', 'priority', 'max_attempts'])
    expectTypeOf<Awaited<ReturnType<typeof schedule.executeTakeFirstOrThrow>>>().toEqualTypeOf<{
      queue: string | null
      priority: number | null
      max_attempts: number | null
    }>()
    jobs.insertInto('pgq.schedules').values({ name: 'n', cron: '@daily', task: 't' })
    // @ts-expect-error: no such column
    jobs.selectFrom('pgq.jobs').select('no_such_column')
    // @ts-expect-error: views are read-only
    jobs.updateTable('pgq.queue_lag').set({ queue: 'x' })
    // @ts-expect-error: the id is generated always
    jobs.insertInto('pgq.jobs').values({ id: '1', task: 't' })
  })
})
