import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import { CLI, runCli } from './run-cli.js'

let db: TestSchema
let env: Record<string, string>
const children = new Set<ChildProcess>()

beforeAll(async () => {
  db = await createTestSchema()
  env = { DATABASE_URL: db.url, PGQ_SCHEMA: db.schema }
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await db.drop()
})

const cli = (...args: string[]) => runCli(['schedule', ...args], env)

async function jobTicks(name: string): Promise<number[]> {
  const result = await db.pool.query(
    `SELECT scheduled_for FROM "${db.schema}".jobs WHERE schedule_name = $1 AND scheduled_for IS NOT NULL ORDER BY 1`,
    [name],
  )
  return result.rows.map((r) => (r.scheduled_for as Date).getTime())
}

const FIXTURE = fileURLToPath(new URL('./fixtures/schedules.mjs', import.meta.url))
const TASKS = fileURLToPath(new URL('./fixtures/tasks.mjs', import.meta.url))

/** Starts `pgq schedule run` and resolves once it logged that it started. */
async function startScheduler(...extra: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'schedule', 'run', '--interval', '100', ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  let log = ''
  child.stderr!.on('data', (d) => {
    log += d
  })
  await waitFor(() => log.includes('scheduler started'), 15_000, 'scheduler started')
  return child
}

describe('pgq schedule: writes and validation', () => {
  it('add, set, list, next (text and --json)', async () => {
    const add = await cli(
      'add',
      'nightly',
      '30 2 * * *',
      'report',
      '--tz',
      'America/New_York',
      '--payload',
      '{"kind":"daily"}',
      '--missed',
      'once',
    )
    expect(add.code, add.stderr).toBe(0)
    expect(add.stdout).toMatch(
      /^added nightly: "30 2 \* \* \*" America\/New_York -> report .*missed once.*next \d{4}-\d\d-\d\dT02:30:00-0[45]:00, active/,
    )
    const again = await cli('add', 'nightly', '0 1 * * *', 'report')
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/schedule "nightly" already exists/)

    const set = await cli('set', 'nightly', '0 3 * * *', 'report', '--tz', 'America/New_York', '--json')
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({
      name: 'nightly',
      cron: '0 3 * * *',
      missed: 'skip',
      status: 'active',
    })

    const list = await cli('list')
    expect(list.stdout).toMatch(/^NAME\s+CRON\s+TZ\s+TASK\s+QUEUE\s+NEXT\s+LAST RUN\s+LAST JOB\s+STATUS/)
    expect(list.stdout).toMatch(
      /nightly\s+0 3 \* \* \*\s+America\/New_York\s+report\s+\(task default\)\s+\S+T03:00:00-0[45]:00\s+-\s+-\s+active/,
    )
    const listJson = JSON.parse((await cli('list', '--json')).stdout)
    expect(listJson).toHaveLength(1)
    expect(listJson[0]).toMatchObject({
      name: 'nightly',
      payload: {}, // set replaces the whole definition: no --payload means {}
      timezone: 'America/New_York',
    })

    const next = await cli('next', 'nightly', '-n', '3')
    const lines = next.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    for (const line of lines) expect(line).toMatch(/T03:00:00-0[45]:00 {2}\(\S+Z\)$/)
    const nextJson = JSON.parse((await cli('next', 'nightly', '-n', '2', '--json')).stdout)
    expect(nextJson).toHaveLength(2)
    expect(nextJson[0].local).toMatch(/T03:00:00/)
  })

  it.each([
    [['add', 'x', 'banana', 'report'], /schedule.cron: must have 5 fields/],
    [['add', 'x', '0 0 30 2 *', 'report'], /schedule.cron: never fires/],
    [
      ['add', 'x', '* * * * *', 'report', '--tz', 'Mars/Olympus'],
      /schedule.timezone: unknown time zone "Mars\/Olympus"/,
    ],
    [['add', 'x', '* * * * *', 'report', '--payload', '{oops'], /--payload is not valid JSON/],
    [
      ['add', 'x', '* * * * *', 'report', '--missed', 'sometimes'],
      /schedule.missed: must be "skip", "once" or "all"/,
    ],
    [['add', 'bad name', '* * * * *', 'report'], /schedule.name: must be 1-128 characters/],
    [
      ['add', 'x', '* * * * *', 'reccord', '--tasks', TASKS],
      /schedule.task: unknown task "reccord"; known tasks: record, slow, suicide/,
    ],
    [['pause', 'ghost'], /schedule "ghost" does not exist/],
    [['remove', 'ghost'], /schedule "ghost" does not exist/],
  ])('rejects %j', async (args, message) => {
    const run = await cli(...args)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(message)
  })
})

describe('pgq schedule: pause, resume, trigger, remove', () => {
  it('each verb in text and --json', async () => {
    expect((await cli('add', 'hourly', '0 * * * *', 'sync')).code).toBe(0)
    const known = await cli('add', 'known-task', '@daily', 'record', '--tasks', TASKS)
    expect(known.code, known.stderr).toBe(0)
    expect((await cli('remove', 'known-task')).code).toBe(0)
    expect((await cli('pause', 'hourly')).stdout.trim()).toBe('paused hourly')
    expect(
      JSON.parse((await cli('list', '--json')).stdout).find((s: { name: string }) => s.name === 'hourly'),
    ).toMatchObject({ paused: true, status: 'paused' })
    expect((await cli('resume', 'hourly', '--json')).stdout).toContain('"name": "hourly"')
    expect((await cli('pause', 'hourly', '--json')).code).toBe(0)
    expect((await cli('resume', 'hourly')).stdout.trim()).toBe('resumed hourly')

    const trigger = await cli('trigger', 'hourly')
    expect(trigger.stdout).toMatch(/^triggered hourly: job \d+/)
    const triggerJson = JSON.parse((await cli('trigger', 'hourly', '--json')).stdout)
    const jobs = await db.pool.query(
      `SELECT id::text, task, meta FROM "${db.schema}".jobs WHERE schedule_name = 'hourly' ORDER BY id`,
    )
    expect(jobs.rows).toHaveLength(2)
    expect(jobs.rows[1]).toMatchObject({ id: triggerJson.result, task: 'sync', meta: { trigger: 'manual' } })
    expect((await cli('list')).stdout).toMatch(/hourly .* available\s+active/)

    expect((await cli('remove', 'hourly')).stdout.trim()).toBe('removed hourly')
    expect((await cli('add', 'gone', '0 * * * *', 'sync')).code).toBe(0)
    expect(JSON.parse((await cli('remove', 'gone', '--json')).stdout)).toEqual({ name: 'gone', result: true })
    expect((await cli('list', '--json')).stdout).not.toContain('"hourly"')
  })
})

describe('pgq schedule run', () => {
  it('three schedulers killed at random (SIGKILL) and restarted: one job per second, none missing', async () => {
    expect((await cli('add', 'every-second', '* * * * * *', 'tick')).code).toBe(0)
    const running = [await startScheduler(), await startScheduler(), await startScheduler()]
    for (let round = 0; round < 4; round++) {
      const before = (await jobTicks('every-second')).length
      await waitFor(async () => (await jobTicks('every-second')).length >= before + 1, 15_000, 'a tick')
      const victim = running.splice(Math.floor(Math.random() * running.length), 1)[0]!
      victim.kill('SIGKILL')
      await once(victim, 'exit')
      running.push(await startScheduler())
    }
    const stopped = running.map((child) => once(child, 'exit'))
    for (const child of running) child.kill('SIGTERM')
    const codes = (await Promise.all(stopped)).map(([code]) => code)
    expect(codes).toEqual([0, 0, 0])
    const ticks = await jobTicks('every-second')
    expect(ticks.length).toBeGreaterThanOrEqual(4)
    expect(ticks).toEqual(ticks.map((_, i) => ticks[0]! + i * 1000))
  })

  it('--schedules <module> upserts code-declared schedules (source code) and fires them', async () => {
    const child = await startScheduler('--schedules', FIXTURE)
    await waitFor(
      async () => (await jobTicks('code-every-second')).length >= 2,
      15_000,
      'code schedule ticks',
    )
    const stopped = once(child, 'exit')
    child.kill('SIGTERM')
    expect((await stopped)[0]).toBe(0)
    const list = JSON.parse((await cli('list', '--json')).stdout) as { name: string; source: string }[]
    expect(list.filter((s) => s.name.startsWith('code-'))).toEqual([
      expect.objectContaining({ name: 'code-every-second', source: 'code', payload: { from: 'code' } }),
      expect.objectContaining({
        name: 'code-nightly',
        source: 'code',
        timezone: 'Asia/Tokyo',
        missed: 'all',
      }),
    ])
  })
})
