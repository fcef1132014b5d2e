import { type ChildProcess, fork } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { committedOutcomes, fill } from './measure.js'
import type { ScaleChildArgs, ScaleMessage } from './scale-child.js'
import type { SystemName } from './systems/index.js'
import type { BenchEnv, BenchSystem, WorkerProfile } from './types.js'

/** One run of several worker processes over one queue. */
export interface ScaleResult {
  readonly processes: number
  readonly jobsPerSecond: number
  /** Jobs each process ran, in fork order (how evenly they shared the queue). */
  readonly perProcess: number[]
  /** CPU ms (user + system) each process spent from the start signal to the stop signal. */
  readonly cpuMsPerProcess: number[]
  /** `pg` queries each process sent over the same span, when its args asked to count them. */
  readonly queriesPerProcess: (number | null)[]
}

/** How {@link measureScale} starts its children and what it lets the caller observe. */
export interface ScaleOptions {
  /**
   * Starts child `index` running `script` with `args` (JSON as argv[2]) and an IPC channel; by
   * default `fork(script, [JSON.stringify(args)])`. hosts.ts starts each one in its own network
   * namespace with a database URL of its own.
   */
  readonly spawn?: (index: number, script: string, args: ScaleChildArgs) => ChildProcess
  /** Called once every child is ready, just before the start signal (outside the timed span). */
  readonly beforeStart?: () => void | Promise<void>
  /** Called once the store has nothing unfinished, before the children are stopped. */
  readonly afterDrain?: () => void | Promise<void>
}

const forkChild = (_index: number, script: string, args: ScaleChildArgs): ChildProcess =>
  fork(script, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })

/**
 * Queues `jobs` jobs, forks `processes` worker processes (each its own pool, defaults), starts them
 * together once all are set up, and times until the system's store has no job left unfinished.
 */
export async function measureScale(
  system: BenchSystem,
  env: BenchEnv,
  processes: number,
  jobs: number,
  timeoutMs: number,
  profile: WorkerProfile = 'defaults',
  options: ScaleOptions = {},
): Promise<ScaleResult> {
  if (!system.outstanding) throw new Error(`${system.name} cannot say when its jobs are done`)
  await system.reset()
  await fill(system, jobs)
  const here = dirname(fileURLToPath(import.meta.url))
  const args: ScaleChildArgs = { system: system.name as SystemName, env, profile }
  const children: ChildProcess[] = []
  const messages = (child: ChildProcess, kind: ScaleMessage['kind']) =>
    new Promise<ScaleMessage>((resolve, reject) => {
      const onMessage = (message: ScaleMessage) => {
        if (message.kind !== kind) return
        child.off('message', onMessage)
        child.off('exit', onExit)
        resolve(message)
      }
      const onExit = (code: number | null) => reject(new Error(`scale child exited with code ${code}`))
      child.on('message', onMessage)
      child.once('exit', onExit)
    })
  try {
    const ready: Promise<ScaleMessage>[] = []
    const spawn = options.spawn ?? forkChild
    for (let i = 0; i < processes; i++) {
      const child = spawn(i, join(here, 'scale-child.js'), args)
      children.push(child)
      ready.push(messages(child, 'ready'))
    }
    await Promise.all(ready)
    await options.beforeStart?.()
    const started = performance.now()
    for (const child of children) child.send({ kind: 'go' })
    const deadline = started + timeoutMs
    // The poll is a statement of the harness's own on the measured PostgreSQL: a count every 5 ms
    // took cores from the workers (most of one when they had it saturated). Poll at a quarter of
    // the time the run still needs at its rate so far (5-100 ms); each poll is timed before its
    // statement, whose snapshot shows what was committed by then.
    const left = async () => Math.max(0, jobs - (await committedOutcomes(system, jobs)))
    let at = performance.now()
    let remaining = await left()
    while (remaining > 0 && at < deadline) {
      const finished = jobs - remaining
      const needMs = finished > 0 ? (remaining * (at - started)) / finished : 100
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(5, needMs / 4))))
      at = performance.now()
      remaining = await left()
    }
    const elapsed = at - started
    if (remaining > 0) throw new Error(`${remaining} of ${jobs} jobs left after ${timeoutMs} ms`)
    await options.afterDrain?.()
    const done = children.map((child) => messages(child, 'done'))
    for (const child of children) child.send({ kind: 'stop' })
    const reports = (await Promise.all(done)).map((m) =>
      m.kind === 'done' ? m : { count: 0, cpuMs: 0, queries: undefined },
    )
    return {
      processes,
      jobsPerSecond: jobs / (elapsed / 1000),
      perProcess: reports.map((r) => r.count),
      cpuMsPerProcess: reports.map((r) => r.cpuMs),
      queriesPerProcess: reports.map((r) => r.queries ?? null),
    }
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  }
}
