import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../pgq/src/logger.js'
import { ScheduleEnqueuer } from '../../pgq/src/schedule/schedule-enqueuer.js'
import { defineTask } from '../../pgq/src/task/task.js'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { runCli } from './run-cli.js'

let t: TestSchema

function cli(...args: string[]) {
  return runCli([...args, '--schema', t.schema], { DATABASE_URL: t.url })
}

async function jobs(task: string) {
  const result = await t.pool.query(
    `SELECT id::text, queue, max_attempts, priority FROM "${t.schema}".jobs WHERE task = $1 ORDER BY id`,
    [task],
  )
  return result.rows
}

beforeAll(async () => {
  t = await createTestSchema()
  // a worker registers send_email (queue emails, 3 attempts) at start; it never claims them here
  const sendEmail = defineTask({
    name: 'send_email',
    queue: 'emails',
    maxAttempts: 3,
    priority: 2,
    handler: async () => null,
  })
  const worker = t.pgq.createWorker({ tasks: [sendEmail], queues: { idle_only: 1 }, pollIntervalMs: 60_000 })
  await worker.start()
  await worker.stop({ graceMs: 1_000 })
})
afterAll(async () => {
  await t.drop()
})

describe('one definition of a task for every way of enqueueing', () => {
  it('SQL, CLI and TypeScript enqueue of the same task give the same queue, attempts and priority', async () => {
    await t.pool.query(`SELECT "${t.schema}".enqueue('send_email', '{"to":"sql@x"}')`)
    const run = await cli('enqueue', 'send_email', '--payload', '{"to":"cli@x"}')
    expect(run.code, run.stderr).toBe(0)
    await t.pgq.enqueue('send_email', { to: 'ts@x' })
    const rows = await jobs('send_email')
    expect(rows).toHaveLength(3)
    for (const row of rows) expect(row).toMatchObject({ queue: 'emails', max_attempts: 3, priority: 2 })
    // explicit options still win
    const explicit = await cli('enqueue', 'send_email', '--queue', 'urgent', '--max-attempts', '1', '--json')
    const { id } = JSON.parse(explicit.stdout)
    expect((await jobs('send_email')).find((r) => r.id === id)).toMatchObject({
      queue: 'urgent',
      max_attempts: 1,
    })
  })

  it('pgq enqueue refuses a task no worker registered (exit 1, nothing written) unless --force', async () => {
    const refused = await cli('enqueue', 'no_such_task', '--payload', '{}')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/task "no_such_task" is not registered .*registered: send_email.*--force/)
    expect(await jobs('no_such_task')).toEqual([])
    const forced = await cli('enqueue', 'no_such_task', '--force', '--json')
    expect(forced.code, forced.stderr).toBe(0)
    expect(JSON.parse(forced.stdout)).toMatchObject({ deduplicated: false, outcome: 'created' })
    expect(await jobs('no_such_task')).toEqual([
      expect.objectContaining({ queue: 'default', max_attempts: 5 }),
    ])
  })

  it('pgq stats names the waiting tasks that nothing can run', async () => {
    await t.pool.query(`SELECT "${t.schema}".enqueue('typo_task', '{}')`)
    const run = await cli('stats')
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/WARNING: waiting jobs of tasks no worker has registered/)
    expect(run.stdout).toMatch(/no_such_task\s+default\s+1/)
    expect(run.stdout).toMatch(/typo_task\s+default\s+1/)
    expect(run.stdout).not.toMatch(/send_email\s+emails/)
    const json = JSON.parse((await cli('stats', '--json')).stdout)
    expect(json.unknownTasks.map((u: { task: string }) => u.task).sort()).toEqual([
      'no_such_task',
      'typo_task',
    ])
  })

  it('pgq enqueue reports a throttled enqueue plainly and refuses a debounce without a window', async () => {
    const args = [
      'enqueue',
      'send_email',
      '--dedup-key',
      'digest',
      '--dedup-mode',
      'throttle',
      '--dedup-window-ms',
      '60000',
    ]
    const first = await cli(...args)
    expect(first.stdout).toMatch(/^enqueued job \d+/)
    const second = await cli(...args)
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/^throttled: job \d+ of send_email/)
    const bad = await cli('enqueue', 'send_email', '--dedup-key', 'd', '--dedup-mode', 'debounce')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/options.dedupWindowMs: is required by dedupMode "debounce"/)
  })

  it("pgq schedule add by task name fires into the task's queue; --queue still wins", async () => {
    const byName = await cli('schedule', 'add', 'mail-digest', '0 0 1 1 *', 'send_email')
    expect(byName.code, byName.stderr).toBe(0)
    expect(byName.stdout).toMatch(/-> send_email \(queue \(task default\), missed skip\)/)
    const explicit = await cli(
      'schedule',
      'add',
      'mail-urgent',
      '0 0 1 1 *',
      'send_email',
      '--queue',
      'urgent',
    )
    expect(explicit.code, explicit.stderr).toBe(0)
    expect(explicit.stdout).toMatch(/\(queue urgent, /)
    const list = await cli('schedule', 'list')
    expect(list.stdout).toMatch(/^NAME\s+CRON\s+TZ\s+TASK\s+QUEUE\s+NEXT/)
    expect(list.stdout).toMatch(/mail-digest\s+0 0 1 1 \*\s+UTC\s+send_email\s+\(task default\)\s/)
    expect(list.stdout).toMatch(/mail-urgent\s+0 0 1 1 \*\s+UTC\s+send_email\s+urgent\s/)
    const json = JSON.parse((await cli('schedule', 'list', '--json')).stdout)
    expect(json.find((s: { name: string }) => s.name === 'mail-digest')).toMatchObject({
      queue: null,
      priority: null,
    })

    // a scheduler tick and a manual trigger both put the job where the task says
    await t.pool.query(
      `UPDATE "${t.schema}".schedules SET next_run_at = now() - interval '1 second' WHERE name LIKE 'mail-%'`,
    )
    const scheduler = new ScheduleEnqueuer({
      pool: t.pool,
      schema: t.schema,
      logger: silentLogger,
      onError: () => {},
    })
    expect(await scheduler.tick()).toMatchObject({ enqueued: 2 })
    const trigger = await cli('schedule', 'trigger', 'mail-digest', '--json')
    expect(trigger.code, trigger.stderr).toBe(0)
    const { rows } = await t.pool.query(
      `SELECT schedule_name, queue, max_attempts, priority, meta->>'trigger' AS trigger
       FROM "${t.schema}".jobs WHERE schedule_name LIKE 'mail-%' ORDER BY id`,
    )
    expect(rows).toEqual([
      expect.objectContaining({ queue: 'emails', max_attempts: 3, priority: 2, trigger: null }),
      expect.objectContaining({ queue: 'urgent', max_attempts: 3, priority: 2, trigger: null }),
      { schedule_name: 'mail-digest', queue: 'emails', max_attempts: 3, priority: 2, trigger: 'manual' },
    ])
    expect(
      rows
        .slice(0, 2)
        .map((r) => r.schedule_name)
        .sort(),
    ).toEqual(['mail-digest', 'mail-urgent'])
  })
})
