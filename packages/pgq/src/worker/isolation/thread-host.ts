import { Worker } from 'node:worker_threads'
import { type Host, type HostExit, type HostOptions, hostEntryUrl, readyPromise } from './host.js'
import type { HostMessage, ParentMessage } from './wire.js'

/**
 * @internal A `node:worker_threads` Worker that runs handlers. Its memory cap is
 * `resourceLimits.maxOldGenerationSizeMb`; `kill` is `worker.terminate()`, which stops running
 * JavaScript (a busy loop included) and closes the thread's sockets.
 */
export class ThreadHost implements Host {
  readonly kind = 'thread' as const
  readonly ready: Promise<void>
  #alive = true
  #requested = false
  #detail: string | undefined
  readonly #worker: Worker
  readonly #exited: Promise<void>

  constructor(options: HostOptions) {
    this.#worker = new Worker(hostEntryUrl(), {
      workerData: { module: options.module },
      ...(options.maxMemoryMb !== undefined
        ? { resourceLimits: { maxOldGenerationSizeMb: options.maxMemoryMb } }
        : {}),
    })
    this.#worker.on('error', (error: Error & { code?: string }) => {
      this.#detail =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `out of memory (maxMemoryMb ${options.maxMemoryMb})`
          : `${error.name}: ${error.message}`
    })
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()))
    this.onExit(() => {
      this.#alive = false
    })
    this.ready = readyPromise(this, 'thread')
    this.ready.catch(() => {})
  }

  get alive(): boolean {
    return this.#alive
  }

  send(message: ParentMessage): void {
    this.#worker.postMessage(message)
  }

  onMessage(listener: (message: HostMessage) => void): void {
    this.#worker.on('message', listener)
  }

  onExit(listener: (exit: HostExit) => void): void {
    this.#worker.once('exit', (code) =>
      listener({ code, signal: null, detail: this.#detail, requested: this.#requested }),
    )
  }

  async kill(): Promise<void> {
    this.#requested = true
    if (this.#alive) await this.#worker.terminate()
    await this.#exited
  }

  setActive(active: boolean): void {
    if (active) this.#worker.ref()
    else this.#worker.unref()
  }
}
