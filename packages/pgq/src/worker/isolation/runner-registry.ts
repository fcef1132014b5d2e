import type { AnyTaskDefinition } from '../../task/task.js'
import type { HandlerRunner } from './handler-runner.js'
import { InlineRunner } from './inline-runner.js'
import type { IsolationConfig } from './isolation-config.js'
import { RunnerPool } from './runner-pool.js'

/**
 * @internal A worker's handler runners: the inline one per task, and one pool of threads or
 * processes per (mode, module, memory cap). Pools start on first use (or at `warm`, when
 * `minIdle` > 0) and stop with the worker.
 */
export class RunnerRegistry {
  readonly #config: IsolationConfig
  readonly #maxIdle: number
  readonly #onError: (error: unknown) => void
  readonly #inline = new Map<string, InlineRunner>()
  readonly #pools = new Map<string, RunnerPool>()

  constructor(config: IsolationConfig, concurrency: number, onError: (error: unknown) => void) {
    this.#config = config
    this.#maxIdle = concurrency
    this.#onError = onError
  }

  /** Where this task runs (`inline` for a task the worker does not know). */
  modeOf(task: AnyTaskDefinition): HandlerRunner['mode'] {
    return this.#config.placements.get(task.name)?.mode ?? 'inline'
  }

  /** A runner for one attempt of this task; may start a thread or process (a cold start). */
  acquire(task: AnyTaskDefinition): HandlerRunner | Promise<HandlerRunner> {
    const pool = this.#poolFor(task)
    if (pool) return pool.acquire()
    let runner = this.#inline.get(task.name)
    if (!runner) {
      runner = new InlineRunner(task)
      this.#inline.set(task.name, runner)
    }
    return runner
  }

  /** Starts the pools whose `minIdle` asks for warm threads or processes. */
  warm(): void {
    if (this.#config.minIdle === 0) return
    for (const name of this.#config.placements.keys()) this.#poolFor({ name } as AnyTaskDefinition)?.warm()
  }

  /** Stops every thread and process (handlers still running in them included). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((pool) => pool.close()))
  }

  #poolFor(task: AnyTaskDefinition): RunnerPool | undefined {
    const placement = this.#config.placements.get(task.name)
    if (!placement || placement.mode === 'inline' || placement.module === undefined) return undefined
    const key = `${placement.mode}\u0000${placement.module}\u0000${placement.maxMemoryMb ?? ''}`
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = new RunnerPool({
        mode: placement.mode,
        module: placement.module,
        maxMemoryMb: placement.maxMemoryMb,
        minIdle: this.#config.minIdle,
        maxIdle: this.#maxIdle,
        idleTimeoutMs: this.#config.idleTimeoutMs,
        startTimeoutMs: this.#config.startTimeoutMs,
        onError: this.#onError,
      })
      this.#pools.set(key, pool)
    }
    return pool
  }
}
