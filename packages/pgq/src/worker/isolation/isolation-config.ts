import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PgqValidationError } from '../../errors.js'
import type { AnyTaskDefinition } from '../../task/task.js'
import { assertInt, assertOptions, MAX_TIMER_MS, optionKeys } from '../../util/validate.js'
import { ISOLATION_MODES, type IsolationMode } from './handler-runner.js'

/** The isolation options a task may set (see `defineTask`). */
export interface TaskIsolationOptions {
  /** Where the handler runs: `inline` (the worker's event loop), `thread` or `process`. */
  readonly isolation?: IsolationMode
  /** The module that exports this task (`import.meta.url`), loaded by the thread or process. */
  readonly module?: string
  /** Memory cap of the thread or process that runs it, in MB (V8 old generation). */
  readonly maxMemoryMb?: number
}

/** Worker-wide isolation defaults and pool sizes; see `WorkerOptions.isolation`. */
export interface WorkerIsolationOptions {
  /** Mode of tasks that do not set `isolation` (default `inline`). */
  readonly mode?: IsolationMode
  /** Module of tasks that do not set `module` (e.g. the path given to `pgq work --tasks`). */
  readonly module?: string
  /** Memory cap of tasks that do not set `maxMemoryMb` (default: Node's own limit). */
  readonly maxMemoryMb?: number
  /** Idle threads/processes kept warm per pool, started with the worker (default 0). */
  readonly minIdle?: number
  /** Idle threads/processes beyond `minIdle` stop after this long unused (default 30,000 ms). */
  readonly idleTimeoutMs?: number
  /** How long a thread/process may take to start before the attempt fails (default 30,000 ms). */
  readonly startTimeoutMs?: number
}

/** @internal Where one task runs. */
export interface TaskPlacement {
  readonly mode: IsolationMode
  readonly module: string | undefined
  readonly maxMemoryMb: number | undefined
}

/** @internal Resolved, frozen isolation settings of a worker. */
export interface IsolationConfig {
  readonly placements: ReadonlyMap<string, TaskPlacement>
  readonly minIdle: number
  readonly idleTimeoutMs: number
  readonly startTimeoutMs: number
}

const WORKER_KEYS = optionKeys<WorkerIsolationOptions>({
  mode: true,
  module: true,
  maxMemoryMb: true,
  minIdle: true,
  idleTimeoutMs: true,
  startTimeoutMs: true,
})

/** @internal Checks a task's isolation options (called by `defineTask`). */
export function validateTaskIsolation(options: TaskIsolationOptions, path = 'task'): void {
  if (options.isolation !== undefined) assertMode(options.isolation, `${path}.isolation`)
  if (options.module !== undefined) moduleUrl(options.module, `${path}.module`)
  if (options.maxMemoryMb !== undefined) assertInt(options.maxMemoryMb, `${path}.maxMemoryMb`, 16, 1_048_576)
}

/** @internal Resolves where each task runs; a task outside the event loop must name its module. */
export function resolveIsolation(
  options: WorkerIsolationOptions | undefined,
  tasks: ReadonlyMap<string, AnyTaskDefinition>,
): IsolationConfig {
  const o = options ?? {}
  assertOptions(o, WORKER_KEYS, 'worker.isolation.')
  if (o.mode !== undefined) assertMode(o.mode, 'worker.isolation.mode')
  const defaultModule = o.module === undefined ? undefined : moduleUrl(o.module, 'worker.isolation.module')
  if (o.maxMemoryMb !== undefined) assertInt(o.maxMemoryMb, 'worker.isolation.maxMemoryMb', 16, 1_048_576)
  const placements = new Map<string, TaskPlacement>()
  for (const [name, task] of tasks) {
    const own = task as AnyTaskDefinition & TaskIsolationOptions
    const mode = own.isolation ?? o.mode ?? 'inline'
    const module = own.module !== undefined ? moduleUrl(own.module, `task.${name}.module`) : defaultModule
    if (mode !== 'inline' && module === undefined) {
      throw new PgqValidationError(
        `task.${name}.module`,
        `isolation "${mode}" loads the task in another thread or process: set the task's module (module: import.meta.url) or worker.isolation.module`,
      )
    }
    placements.set(name, Object.freeze({ mode, module, maxMemoryMb: own.maxMemoryMb ?? o.maxMemoryMb }))
  }
  return Object.freeze({
    placements,
    minIdle: assertInt(o.minIdle ?? 0, 'worker.isolation.minIdle', 0, 1_000),
    idleTimeoutMs: assertInt(o.idleTimeoutMs ?? 30_000, 'worker.isolation.idleTimeoutMs', 100, MAX_TIMER_MS),
    startTimeoutMs: assertInt(
      o.startTimeoutMs ?? 30_000,
      'worker.isolation.startTimeoutMs',
      100,
      MAX_TIMER_MS,
    ),
  })
}

function assertMode(value: unknown, path: string): void {
  if (!ISOLATION_MODES.includes(value as IsolationMode)) {
    throw new PgqValidationError(path, `must be one of ${ISOLATION_MODES.join(', ')}`, value)
  }
}

/** A `file:` URL (as `import.meta.url` gives) or an absolute path, as a URL string. */
function moduleUrl(value: unknown, path: string): string {
  if (typeof value === 'string' && value.startsWith('file:')) return new URL(value).href
  if (typeof value === 'string' && isAbsolute(value)) return pathToFileURL(value).href
  throw new PgqValidationError(path, 'must be a file: URL (import.meta.url) or an absolute path', value)
}
