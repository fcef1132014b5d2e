import { JobAbortedError, PermanentError } from '../../task/job-outcome.js'
import type { TaskContext } from '../../task/task.js'
import type { TraceCarrier } from '../../tracing/trace-context.js'
import type { WireError } from './wire.js'

/** Where a task's handler runs; see docs/operations.md "Isolation modes and their costs". */
export type IsolationMode = 'inline' | 'thread' | 'process'

/** The isolation modes, in order of cost. */
export const ISOLATION_MODES: readonly IsolationMode[] = Object.freeze(['inline', 'thread', 'process'])

/**
 * @internal Runs one task's handler for one attempt, wherever it lives. The executor gets one
 * from the worker's runner registry, calls `run` once, and then either `release`s it (the run
 * settled) or `terminate`s it (the hard time limit passed).
 */
export interface HandlerRunner {
  readonly mode: IsolationMode
  /**
   * Runs the handler with this payload and context; resolves with its return value (a snooze is
   * rebuilt), rejects with what it threw (PermanentError, JobAbortedError kept) or, outside the
   * event loop, with a `HandlerCrashedError` when its thread or process died. `ctx.signal`'s abort
   * is forwarded to the handler; progress comes back through `ctx.progress`. `trace` (the
   * attempt's span context) is sent to a thread or process, where the handler runs inside it, and
   * so are `steps` (the job's stored durable steps): there `ctx.step` replays them, and new steps
   * and sleeps come back through `ctx.step` / `ctx.sleep`.
   */
  run(
    payload: unknown,
    context: TaskContext,
    trace?: TraceCarrier,
    steps?: Readonly<Record<string, unknown>> | null,
  ): Promise<unknown>
  /** Aborts the handler's own signal (forwarded as a message outside the event loop). */
  abort(reason: unknown): void
  /**
   * Stops the handler for real: `worker.terminate()` (thread), SIGKILL (process). Resolves once
   * it is gone. Returns false when the mode cannot stop running code (inline).
   */
  terminate(): Promise<boolean>
  /** Gives the runner back to its pool after a run that settled. */
  release(): void
}

/** @internal Rebuilds a thrown error on the parent's side, keeping the classes pgq acts on. */
export function fromWireError(wire: WireError): Error {
  let error: Error
  if (wire.name === 'PermanentError') error = new PermanentError(wire.message)
  else if (wire.name === 'JobAbortedError' && isAbortReason(wire.reason))
    error = new JobAbortedError(wire.reason)
  else {
    error = new Error(wire.message)
    error.name = wire.name
    if (wire.code !== undefined) (error as Error & { code?: string }).code = wire.code
  }
  if (wire.stack !== undefined) error.stack = wire.stack
  return error
}

function isAbortReason(reason: string | undefined): reason is JobAbortedError['reason'] {
  return reason === 'timeout' || reason === 'cancelled' || reason === 'lease-lost' || reason === 'shutdown'
}
