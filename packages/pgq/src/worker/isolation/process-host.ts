import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Host, type HostExit, type HostOptions, hostEntryUrl, readyPromise } from './host.js'
import type { HostMessage, ParentMessage } from './wire.js'

const STDERR_TAIL = 2_000

/**
 * @internal A child process (`child_process.fork`) that runs handlers. Its memory cap is
 * `--max-old-space-size`; `kill` is SIGKILL. Its stderr passes through to the worker's, and the
 * last lines are kept to explain a crash (V8's "heap out of memory", a native abort).
 */
export class ProcessHost implements Host {
  readonly kind = 'process' as const
  readonly ready: Promise<void>
  #alive = true
  #requested = false
  #stderrTail = ''
  #crash: string | undefined
  #oom = false
  readonly #child: ChildProcess
  readonly #exited: Promise<void>

  constructor(options: HostOptions) {
    const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--max-old-space-size'))
    if (options.maxMemoryMb !== undefined) execArgv.push(`--max-old-space-size=${options.maxMemoryMb}`)
    this.#child = fork(fileURLToPath(hostEntryUrl()), [options.module], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL)
      if (/heap out of memory|Allocation failed/i.test(this.#stderrTail)) this.#oom = true
    })
    this.#child.on('error', () => {}) // a failed spawn also emits 'exit'
    this.#child.on('message', (message: HostMessage) => {
      if (message.type === 'crash') this.#crash = `${message.error.name}: ${message.error.message}`
    })
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()))
    this.onExit(() => {
      this.#alive = false
    })
    this.ready = readyPromise(this, 'process')
    this.ready.catch(() => {})
  }

  get alive(): boolean {
    return this.#alive
  }

  send(message: ParentMessage): void {
    if (this.#alive && this.#child.connected) this.#child.send(message)
  }

  onMessage(listener: (message: HostMessage) => void): void {
    this.#child.on('message', listener)
  }

  onExit(listener: (exit: HostExit) => void): void {
    this.#child.once('exit', (code, signal) =>
      listener({ code, signal, detail: this.#describe(), requested: this.#requested }),
    )
  }

  async kill(): Promise<void> {
    this.#requested = true
    if (this.#alive) this.#child.kill('SIGKILL')
    await this.#exited
  }

  setActive(active: boolean): void {
    const channel = this.#child.channel as { ref(): void; unref(): void } | null | undefined
    if (active) {
      this.#child.ref()
      channel?.ref()
    } else {
      this.#child.unref()
      channel?.unref()
    }
  }

  #describe(): string | undefined {
    if (this.#crash) return this.#crash
    if (this.#oom) return 'out of memory'
    const last = this.#stderrTail.trim().split('\n').slice(-3).join(' | ')
    return last || undefined
  }
}
