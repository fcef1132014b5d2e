import { snooze } from '../../task/job-outcome.js'
import type { TaskContext } from '../../task/task.js'
import type { TraceCarrier } from '../../tracing/trace-context.js'
import { HandlerCrashedError } from './errors.js'
import { fromWireError, type HandlerRunner } from './handler-runner.js'
import type { Host, HostExit } from './host.js'
import { type HostMessage, toWireError } from './wire.js'

/** @internal Where a runner goes when its run is over. */
export interface RunnerReturn {
  release(runner: IsolatedRunner): void
  discard(runner: IsolatedRunner): void
}

interface Run {
  readonly runId: number
  readonly context: TaskContext
  resolve(value: unknown): void
  reject(error: Error): void
}

let nextRunId = 0

/**
 * @internal Runs a handler in a thread or child process (a {@link Host}) for one attempt: sends
 * the payload and the stored steps, forwards the abort, writes progress and new steps through the
 * parent's fenced `ctx.progress` / `ctx.step` / `ctx.sleep`, rebuilds the outcome. A host that dies mid-run fails the run with a `HandlerCrashedError`.
 */
export class IsolatedRunner implements HandlerRunner {
  readonly mode: 'thread' | 'process'
  readonly host: Host
  readonly #pool: RunnerReturn
  readonly #module: string
  #run: Run | undefined
  #detach: (() => void) | undefined

  constructor(host: Host, pool: RunnerReturn, module: string) {
    this.mode = host.kind
    this.host = host
    this.#pool = pool
    this.#module = module
    host.onMessage((message) => this.#onMessage(message))
    host.onExit((exit) => this.#onExit(exit))
  }

  run(
    payload: unknown,
    context: TaskContext,
    trace?: TraceCarrier,
    steps?: Readonly<Record<string, unknown>> | null,
  ): Promise<unknown> {
    const runId = ++nextRunId
    return new Promise((resolve, reject) => {
      this.#run = { runId, context, resolve, reject }
      this.host.setActive(true)
      const { jobId, task, queue, attempt, maxAttempts } = context
      this.host.send({
        type: 'run',
        runId,
        module: this.#module,
        task,
        payload,
        context: { jobId, task, queue, attempt, maxAttempts },
        ...(trace ? { trace } : {}),
        ...(steps ? { steps } : {}),
      })
      const onAbort = () => this.abort(context.signal.reason)
      if (context.signal.aborted) onAbort()
      else {
        context.signal.addEventListener('abort', onAbort, { once: true })
        this.#detach = () => context.signal.removeEventListener('abort', onAbort)
      }
    })
  }

  abort(reason: unknown): void {
    const run = this.#run
    if (!run) return
    const wire = toWireError(reason)
    this.host.send({ type: 'abort', runId: run.runId, reason: wire.reason ?? 'cancelled' })
  }

  async terminate(): Promise<boolean> {
    this.#end()
    this.#pool.discard(this)
    await this.host.kill()
    return true
  }

  release(): void {
    this.#end()
    if (this.host.alive) this.#pool.release(this)
    else this.#pool.discard(this)
  }

  #end(): void {
    this.#run = undefined
    this.#detach?.()
    this.#detach = undefined
  }

  #onMessage(message: HostMessage): void {
    const run = this.#run
    if (message.type === 'progress') {
      // a detached promise of an ended run still reporting: refused like a late inline report
      if (!run || message.runId !== run.runId) {
        this.#refuseLate(message.seq)
        return
      }
      run.context.progress(message.value, message.meta as never).then(
        () => this.host.send({ type: 'progress-ack', seq: message.seq }),
        (error) => this.host.send({ type: 'progress-ack', seq: message.seq, error: toWireError(error) }),
      )
    } else if (message.type === 'step' || message.type === 'sleep') {
      if (!run || message.runId !== run.runId) {
        this.#refuseLate(message.seq)
        return
      }
      // the worker's own ctx.step / ctx.sleep do the fenced write (and the sleep's bookkeeping)
      const done =
        message.type === 'step'
          ? run.context.step(message.name, () => message.value)
          : run.context.sleep(message.duration as number | string)
      done.then(
        (value) => this.host.send({ type: 'step-ack', seq: message.seq, value }),
        (error) => this.host.send({ type: 'step-ack', seq: message.seq, error: toWireError(error) }),
      )
    } else if (message.type === 'done' && run && message.runId === run.runId) {
      this.#run = undefined
      if (!message.ok) run.reject(fromWireError(message.error))
      else run.resolve(message.snoozeMs !== undefined ? snooze(message.snoozeMs) : message.value)
    }
  }

  #refuseLate(seq: number): void {
    const error = { name: 'AttemptEndedError', message: 'the attempt has ended (nothing was written)' }
    this.host.send({ type: 'progress-ack', seq, error })
  }

  #onExit(exit: HostExit): void {
    const run = this.#run
    this.#run = undefined
    this.#pool.discard(this)
    if (!run) return
    const how = exit.requested
      ? 'was stopped (the worker is stopping)'
      : exit.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code}`
    const what = exit.detail ? `: ${exit.detail}` : ''
    run.reject(
      new HandlerCrashedError(`the handler's ${this.mode} ${how} during the attempt${what}`, {
        code: exit.code,
        signal: exit.signal,
        detail: exit.detail,
      }),
    )
  }
}
