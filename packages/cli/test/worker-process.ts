// Starts `pgq work` as a real child process and follows its log lines.
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import { CLI } from './run-cli.js'

export const TASKS_FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tasks.mjs')

/** The tables TASKS_FIXTURE's handlers write to: one row per handler start (runs) and end (completions). */
export async function createSideEffectTables(t: TestSchema): Promise<void> {
  for (const table of ['runs', 'completions']) {
    await t.pool.query(
      `CREATE TABLE "${t.schema}".${table} (job_id bigint NOT NULL, pid int NOT NULL, at timestamptz DEFAULT clock_timestamp())`,
    )
  }
}

export interface WorkerProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** Log output so far. */
  log(): string
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>
  kill(signal: NodeJS.Signals): void
}

export async function startWorkerProcess(
  args: string[],
  env: Record<string, string>,
  options: { waitReady?: boolean; tasks?: string } = {},
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, 'work', '--tasks', options.tasks ?? TASKS_FIXTURE, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => {
    output += d
  })
  child.stderr!.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const worker: WorkerProcess = {
    child,
    pid: child.pid!,
    log: () => output,
    exited,
    kill: (signal) => child.kill(signal),
  }
  if (options.waitReady !== false) {
    let done = false
    void exited.then(() => {
      done = true
    })
    await waitFor(() => done || output.includes(' ready ('), 20_000, 'worker ready')
    if (done) throw new Error(`worker exited before ready:\n${output}`)
  }
  return worker
}
