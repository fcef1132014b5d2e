import type { TraceCarrier } from '../../tracing/trace-context.js'

/** @internal What a handler's context carries into a thread or process. */
export interface WireContext {
  readonly jobId: string
  readonly task: string
  readonly queue: string
  readonly attempt: number
  readonly maxAttempts: number
}

/** @internal An error as it crosses the boundary (structured clone would lose its class). */
export interface WireError {
  readonly name: string
  readonly message: string
  readonly stack?: string
  /** `JobAbortedError.reason`, when that is what was thrown. */
  readonly reason?: string
  readonly code?: string
}

/** @internal Parent → host. One run at a time per host; `runId` tells runs apart. */
export type ParentMessage =
  | {
      readonly type: 'run'
      readonly runId: number
      readonly module: string
      readonly task: string
      readonly payload: unknown
      readonly context: WireContext
      /** The attempt's span context (W3C), when tracing is on in the worker. */
      readonly trace?: TraceCarrier
      /** The durable steps earlier runs stored (`jobs.steps`), or null. */
      readonly steps?: Readonly<Record<string, unknown>> | null
    }
  | { readonly type: 'abort'; readonly runId: number; readonly reason: string }
  | { readonly type: 'progress-ack'; readonly seq: number; readonly error?: WireError }
  /** The answer to a `step` (the stored JSON value) or a `sleep` (none: the sleep is over). */
  | { readonly type: 'step-ack'; readonly seq: number; readonly value?: unknown; readonly error?: WireError }

/** @internal Host → parent. */
export type HostMessage =
  | { readonly type: 'ready' }
  | {
      readonly type: 'progress'
      readonly runId: number
      readonly seq: number
      readonly value: number | null
      readonly meta?: unknown
    }
  | {
      readonly type: 'done'
      readonly runId: number
      readonly ok: true
      readonly value: unknown
      readonly snoozeMs?: number
    }
  | { readonly type: 'done'; readonly runId: number; readonly ok: false; readonly error: WireError }
  | { readonly type: 'crash'; readonly error: WireError }
  /** A step's function ran in the host: the worker stores its result (fenced) and acks it. */
  | {
      readonly type: 'step'
      readonly runId: number
      readonly seq: number
      readonly name: string
      readonly value: unknown
    }
  /** The handler reached `ctx.sleep`: the worker records it and acks (over) or refuses (sleep now). */
  | { readonly type: 'sleep'; readonly runId: number; readonly seq: number; readonly duration: unknown }

/** @internal Name, message, stack (and an abort reason or code) of anything thrown. */
export function toWireError(thrown: unknown): WireError {
  if (!(thrown instanceof Error)) return { name: 'Error', message: String(thrown) }
  const { reason, code } = thrown as { reason?: unknown; code?: unknown }
  return {
    name: thrown.name,
    message: String(thrown.message),
    stack: thrown.stack,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  }
}
