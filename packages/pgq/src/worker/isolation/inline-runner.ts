import type { AnyTaskDefinition, TaskContext } from '../../task/task.js'
import type { HandlerRunner } from './handler-runner.js'

/**
 * @internal Runs the handler in the worker's own event loop (the default). Cheapest, and the only
 * mode that cannot stop a handler: `terminate` returns false, the run is only abandoned.
 */
export class InlineRunner implements HandlerRunner {
  readonly mode = 'inline' as const
  readonly #task: AnyTaskDefinition

  constructor(task: AnyTaskDefinition) {
    this.#task = task
  }

  run(payload: unknown, context: TaskContext): Promise<unknown> {
    return Promise.resolve().then(() => this.#task.handler(payload, context))
  }

  /** The handler reads the job's own signal, which the executor aborts: nothing to forward. */
  abort(): void {}

  async terminate(): Promise<boolean> {
    return false
  }

  release(): void {}
}
