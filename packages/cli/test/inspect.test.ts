import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expireJobs } from '../../pgq/src/sql/expiry-queries.js'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { jobRow, markFailed, markRunning, markSucceeded, seedJobs } from '../../pgq/test/worker-simulation.js'
import { runCli } from './run-cli.js'

let t: TestSchema
let ids: { done: string; failed: string; running: string; waiting: string; later: string }

function cli(...args: string[]) {
  return runCli([...args, '--schema', t.schema], { DATABASE_URL: t.url })
}

beforeAll(async () => {
  t = await createTestSchema()
  const [done, failed, running, waiting] = await seedJobs(t, 4, {
    task: 'send_email',
    queue: 'mail',
    payload: (i) => ({ to: `user${i}@example.com` }),
  })
  await markSucceeded(t, done!, { messageId: 'm-1' })
  await markFailed(t, failed!, ['smtp down', 'smtp still down'])
  await markRunning(t, running!)
  await t.pool.query(`UPDATE "${t.schema}".jobs SET run_at = now() - interval '30 minutes' WHERE id = $1`, [
    waiting,
  ])
  const later = await t.pgq.enqueue('build_report', {}, { queue: 'reports', delayMs: 3_600_000 })
  ids = { done: done!, failed: failed!, running: running!, waiting: waiting!, later: later.id }
})
afterAll(async () => {
  await t.drop()
})

describe('pgq jobs', () => {
  it('lists jobs newest first as a table, without payloads', async () => {
    const run = await cli('jobs')
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^ID\s+TASK\s+QUEUE\s+STATE\s+ATTEMPTS\s+CREATED\s+LAST ERROR$/)
    expect(lines[1]).toMatch(new RegExp(`^${ids.later}\\s+build_report\\s+reports\\s+available\\s+0/5`))
    expect(run.stdout).toMatch(
      new RegExp(`${ids.failed}\\s+send_email\\s+mail\\s+failed\\s+2/5\\s+.*smtp still down`),
    )
    expect(lines.at(-1)).toBe('(5 jobs)')
    expect(run.stdout).not.toContain('example.com')
  })

  it('filters, pages and prints JSON', async () => {
    const failed = await cli('jobs', '--state', 'failed', '--json')
    expect(JSON.parse(failed.stdout)).toEqual([
      expect.objectContaining({ id: ids.failed, state: 'failed', lastError: 'smtp still down' }),
    ])
    const page = await cli('jobs', '--queue', 'mail', '--limit', '2')
    expect(page.stdout.trim().split('\n').at(-1)).toBe(`(2 jobs; next page: --before ${ids.running})`)
    const bad = await cli('jobs', '--state', 'done')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/filter.state\[0\]: must be one of blocked, available, running/)
  })

  it('shows one job with its error history and result; the payload only on request', async () => {
    const failed = await cli('jobs', 'show', ids.failed)
    expect(failed.code, failed.stderr).toBe(0)
    expect(failed.stdout).toContain(
      `job ${ids.failed}\n  task         send_email\n  queue        mail\n  state        failed`,
    )
    expect(failed.stdout).toMatch(
      /errors {7}2, oldest first:\n {4}#1 {2}\S+ {2}smtp down\n {4}#2 {2}\S+ {2}smtp still down/,
    )
    expect(failed.stdout).not.toContain('example.com')
    const done = await cli('jobs', 'show', ids.done, '--json', '--payload')
    expect(JSON.parse(done.stdout)).toMatchObject({
      id: ids.done,
      state: 'succeeded',
      result: { messageId: 'm-1' },
      payload: { to: 'user0@example.com' },
    })
    const missing = await cli('jobs', 'show', '999999')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/job 999999 not found/)
  })
})

describe('pgq stats', () => {
  it('prints per-queue counts, lag and throughput, as text and JSON', async () => {
    const run = await cli('stats')
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[0]).toMatch(
      /^schema "\w+" at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; throughput over the last 5 min$/,
    )
    expect(lines[1]).toMatch(
      /^QUEUE\s+WAITING\s+SCHEDULED\s+BLOCKED\s+RUNNING\s+SUCCEEDED\s+FAILED\s+CANCELLED\s+EXPIRED\s+LAG\s+DONE\/MIN/,
    )
    expect(lines[2]).toMatch(/^mail\s+1\s+0\s+0\s+1\s+1\s+1\s+0\s+0\s+3\dm\d\ds\s+0\.4\s+1$/)
    expect(lines[3]).toMatch(/^reports\s+0\s+1\s+0\s+0\s+0\s+0\s+0\s+0\s+-\s+0\s+0$/)
    expect(lines[4]).toMatch(/^\(all\)\s+1\s+1\s+0\s+1/)
    const json = JSON.parse((await cli('stats', '--json', '--window', '10')).stdout)
    expect(json.windowMinutes).toBe(10)
    expect(json.queues.map((q: { queue: string }) => q.queue)).toEqual(['mail', 'reports'])
  })
})

describe('pgq retry, cancel and enqueue', () => {
  it('retries a failed job and refuses to act on everything without --all', async () => {
    const none = await cli('retry')
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/give job ids, a filter/)
    const run = await cli('retry', ids.failed)
    expect(run.stdout.trim()).toBe('retried 1 job')
    expect((await jobRow(t, ids.failed))!.state).toBe('available')
    expect(JSON.parse((await cli('retry', ids.failed, '--json')).stdout)).toEqual({ retried: 0 })
  })

  it('refuses to retry a node of a cancelled workflow, naming why', async () => {
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_chain('[{"task":"nobody_runs_this","payload":1},{"task":"add"}]')::text AS id`,
    )
    const wf = rows[0]!.id
    // the second node waits on the first: the table's BLOCKED column counts it
    expect((await cli('stats')).stdout).toMatch(/^default\s+1\s+0\s+1\s+0\s/m)
    await t.pgq.workflows.cancel(wf)
    const node = (await t.pgq.workflows.get(wf))!.nodes[0]!.id
    const run = await cli('retry', node)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`job ${node} is a node of workflow ${wf}, which was cancelled`)
    expect((await jobRow(t, node))!.state).toBe('cancelled')
  })

  it('cancels a waiting job and asks a running one to stop', async () => {
    const run = await cli('cancel', ids.waiting, ids.running)
    expect(run.stdout.trim()).toBe('cancelled 1 waiting job; asked 1 running job to stop')
    expect((await jobRow(t, ids.waiting))!.state).toBe('cancelled')
    expect((await jobRow(t, ids.running))!.cancel_requested_at).toBeInstanceOf(Date)
  })

  it('enqueues by task name with options and dedup keys', async () => {
    // no worker registered send_email in this schema: --force (see enqueue.test.ts for the refusal)
    const first = await cli(
      'enqueue',
      'send_email',
      '--force',
      '--payload',
      '{"to":"ops@example.com"}',
      '--queue',
      'mail',
      '--dedup-key',
      'ops',
    )
    expect(first.stdout.trim()).toMatch(/^enqueued job (\d+) \(send_email\)$/)
    const id = /job (\d+)/.exec(first.stdout)![1]!
    expect(await jobRow(t, id)).toMatchObject({
      queue: 'mail',
      payload: { to: 'ops@example.com' },
      dedup_key: 'ops',
    })
    const again = await cli('enqueue', 'send_email', '--force', '--dedup-key', 'ops', '--json')
    expect(JSON.parse(again.stdout)).toEqual({ id, deduplicated: true, outcome: 'deduplicated' })
    const bad = await cli('enqueue', 'send_email', '--payload', '{nope')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/--payload: not valid JSON/)
    const badPriority = await cli('enqueue', 'send_email', '--priority', 'high')
    expect(badPriority.code).toBe(64) // a usage error (docs/operations.md#process-lifetime-and-exit-codes)
    expect(badPriority.stderr).toMatch(/--priority <n>' argument 'high' is invalid/)
  })
})

describe('pgq prune', () => {
  it('deletes finished jobs past their retention, and nothing else', async () => {
    const due = await seedJobs(t, 7, { task: 'old' })
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'succeeded', finished_at = now(), delete_after = now() - interval '1 second'
       WHERE id = ANY($1::bigint[])`,
      [due],
    )
    const before = (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs`)).rows[0].n
    const run = await cli('prune', '--batch-size', '3')
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout.trim()).toBe('deleted 7 finished jobs past retention')
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs`)).rows[0].n).toBe(
      before - 7,
    )
    expect(JSON.parse((await cli('prune', '--json')).stdout)).toEqual({ deleted: 0 })
  })
})

describe('expired jobs', () => {
  it('pgq jobs --state expired lists them, pgq stats counts them, pgq retry runs one again without its deadline', async () => {
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT id::text FROM "${t.schema}".enqueue_many('[{"task":"late_task","queue":"late","expires_at":"2000-01-01T00:00:00Z"}]'::jsonb)`,
    )
    const id = rows[0]!.id
    await expireJobs(t.pool, t.pgq.names, { limit: 1_000, retentionMs: null })
    const list = await cli('jobs', '--state', 'expired', '--json')
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        id,
        state: 'expired',
        lastError: expect.stringMatching(/^expired: not started by/),
      }),
    ])
    const stats = await cli('stats')
    expect(stats.stdout).toMatch(/^late\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+1\s+-\s/m)
    const json = JSON.parse((await cli('stats', '--json')).stdout)
    expect(json.queues.find((q: { queue: string }) => q.queue === 'late')).toMatchObject({
      expired: 1,
      recent: { expired: 1 },
    })
    const retry = await cli('retry', '--state', 'expired')
    expect(retry.stdout.trim()).toBe('retried 1 job')
    expect(await jobRow(t, id)).toMatchObject({ state: 'available', expires_at: null })
  })
})
