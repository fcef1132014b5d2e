// Real `pgq` child processes for the fault suite: every output line is kept with the time it
// arrived, so a test can count log lines per second over an outage.
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../../../pgq/test/test-database.js'
import { CLI } from '../run-cli.js'

export const FAULT_TASKS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tasks.mjs')

export interface LogLine {
  readonly at: number
  readonly text: string
}

export interface PgqProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly name: string
  readonly lines: LogLine[]
  output(): string
  /** The exit code, or the signal name; undefined while it runs. */
  exit(): number | string | undefined
  readonly exited: Promise<number | string>
  kill(signal: NodeJS.Signals): void
  /** Lines that arrived in [from, to). */
  linesBetween(from: number, to: number): LogLine[]
}

const running = new Set<PgqProcess>()

/** Starts `pgq <args>` with `env` added to this process's environment. */
export function spawnPgq(name: string, args: string[], env: Record<string, string | undefined>): PgqProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: LogLine[] = []
  let exit: number | string | undefined
  const collect = (stream: NodeJS.ReadableStream) => {
    let partial = ''
    stream.on('data', (data: Buffer) => {
      const parts = (partial + data.toString()).split('\n')
      partial = parts.pop() ?? ''
      const at = Date.now()
      for (const text of parts) lines.push({ at, text })
    })
  }
  collect(child.stdout!)
  collect(child.stderr!)
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = code ?? signal ?? 'unknown'
      running.delete(handle)
      resolve(exit)
    })
  })
  const handle: PgqProcess = {
    child,
    pid: child.pid!,
    name,
    lines,
    output: () => lines.map((l) => `${name}| ${l.text}`).join('\n'),
    exit: () => exit,
    exited,
    kill: (signal) => {
      if (exit === undefined) child.kill(signal)
    },
    linesBetween: (from, to) => lines.filter((l) => l.at >= from && l.at < to),
  }
  running.add(handle)
  return handle
}

/** Waits until a line of `p` matches `pattern`; fails at once (with its output) if `p` exits first. */
export async function waitForLine(
  p: PgqProcess,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  return waitFor(
    () => {
      for (const line of p.lines) {
        const match = pattern.exec(line.text)
        if (match) return match
      }
      if (p.exit() !== undefined)
        throw new Error(`${p.name} exited ${p.exit()} before ${pattern}:\n${p.output()}`)
      return undefined
    },
    timeoutMs,
    `${p.name}: ${pattern}`,
  )
}

export interface WorkerProcess extends PgqProcess {
  /** `pgq.workers.id` / `jobs.locked_by` of this process. */
  readonly workerId: string
}

/** Starts `pgq work --tasks <fault tasks>` and waits for its ready line. */
export async function startWorker(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<WorkerProcess> {
  const p = spawnPgq(name, ['work', '--tasks', FAULT_TASKS, ...args], env)
  const ready = await waitForLine(p, /worker (\S+) ready \(/, 180_000) // slow on a loaded machine
  return Object.assign(p, { workerId: ready[1]! })
}

/** SIGKILLs every process this file started that still runs (for afterAll). */
export async function killAll(): Promise<void> {
  const all = [...running]
  for (const p of all) p.kill('SIGKILL')
  await Promise.all(all.map((p) => p.exited))
}

/** Stops `p` with SIGTERM and returns its exit code. */
export async function stopGracefully(p: PgqProcess): Promise<number | string> {
  p.kill('SIGTERM')
  return p.exited
}
