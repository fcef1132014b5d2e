import { HandlerCrashedError } from './errors.js'
import type { Host, HostOptions } from './host.js'
import { IsolatedRunner, type RunnerReturn } from './isolated-runner.js'
import { ProcessHost } from './process-host.js'
import { ThreadHost } from './thread-host.js'

/** @internal One pool: hosts of one mode, loading one module, with one memory cap. */
export interface RunnerPoolOptions extends HostOptions {
  readonly mode: 'thread' | 'process'
  /** Idle hosts kept warm, started with the worker and replaced when one dies. */
  readonly minIdle: number
  /** Most idle hosts kept (the worker's concurrency: more never run at once). */
  readonly maxIdle: number
  /** Idle hosts beyond `minIdle` are stopped after this long unused. */
  readonly idleTimeoutMs: number
  /** How long a new host may take to load before its start counts as a crash. */
  readonly startTimeoutMs: number
  readonly onError: (error: unknown) => void
}

/**
 * @internal Threads or child processes that run handlers, one run each at a time: reused while
 * they live, replaced when one is terminated or dies, kept warm up to `minIdle`.
 */
export class RunnerPool implements RunnerReturn {
  readonly #options: RunnerPoolOptions
  readonly #idle: { runner: IsolatedRunner; since: number }[] = []
  readonly #all = new Set<IsolatedRunner>()
  #reaper: NodeJS.Timeout | undefined
  #closed = false
  #warming = 0

  constructor(options: RunnerPoolOptions) {
    this.#options = options
  }

  /** Hosts alive (idle or running). */
  get size(): number {
    return this.#all.size
  }

  /** Starts hosts until `minIdle` are idle (a cold start is paid here, not by a job). */
  warm(): void {
    const missing = this.#options.minIdle - this.#idle.length - this.#warming
    for (let i = 0; i < missing && !this.#closed; i++) {
      this.#warming += 1
      this.#spawn()
        .then(
          (runner) => this.release(runner),
          (error) => this.#options.onError(error),
        )
        .finally(() => {
          this.#warming -= 1
        })
    }
  }

  /** An idle runner, or a new one once its host is ready. */
  async acquire(): Promise<IsolatedRunner> {
    for (let entry = this.#idle.pop(); entry; entry = this.#idle.pop()) {
      if (entry.runner.host.alive) return entry.runner
    }
    return this.#spawn()
  }

  release(runner: IsolatedRunner): void {
    runner.host.setActive(false)
    if (this.#closed || this.#idle.length >= this.#options.maxIdle) {
      this.discard(runner)
      void runner.host.kill()
      return
    }
    this.#idle.push({ runner, since: performance.now() })
    this.#scheduleReap()
  }

  discard(runner: IsolatedRunner): void {
    if (!this.#all.delete(runner)) return
    const at = this.#idle.findIndex((entry) => entry.runner === runner)
    if (at !== -1) this.#idle.splice(at, 1)
    if (!this.#closed) this.warm()
  }

  /** Stops every host (running handlers included); used when the worker stops. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#reaper)
    const runners = [...this.#all]
    this.#idle.length = 0
    this.#all.clear()
    await Promise.all(runners.map((runner) => runner.host.kill()))
  }

  async #spawn(): Promise<IsolatedRunner> {
    const { mode, module, maxMemoryMb, startTimeoutMs } = this.#options
    const host: Host =
      mode === 'thread' ? new ThreadHost({ module, maxMemoryMb }) : new ProcessHost({ module, maxMemoryMb })
    const runner = new IsolatedRunner(host, this, module)
    this.#all.add(runner)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new HandlerCrashedError(`the handler ${mode} did not start within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      )
    })
    try {
      await Promise.race([host.ready, timeout])
    } catch (error) {
      this.#all.delete(runner)
      void host.kill()
      throw error instanceof HandlerCrashedError ? error : new HandlerCrashedError((error as Error).message)
    } finally {
      clearTimeout(timer)
    }
    if (this.#closed) {
      void host.kill()
      throw new HandlerCrashedError(`the handler ${mode} pool is closed (the worker is stopping)`)
    }
    return runner
  }

  #scheduleReap(): void {
    if (this.#reaper || this.#idle.length <= this.#options.minIdle) return
    this.#reaper = setTimeout(() => {
      this.#reaper = undefined
      const now = performance.now()
      while (this.#idle.length > this.#options.minIdle) {
        const oldest = this.#idle[0]
        if (!oldest || now - oldest.since < this.#options.idleTimeoutMs) break
        this.#idle.shift()
        this.#all.delete(oldest.runner)
        void oldest.runner.host.kill()
      }
      this.#scheduleReap()
    }, this.#options.idleTimeoutMs)
    this.#reaper.unref()
  }
}
