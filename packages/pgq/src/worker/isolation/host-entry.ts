// The program a handler thread or handler process runs: it imports task modules, runs one
// handler at a time on request, and reports progress and the outcome to its parent.
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { isSnooze, JobAbortedError } from '../../task/job-outcome.js'
import { parsePayloadForRun } from '../../task/payload-validation.js'
import { StepError } from '../../task/step-errors.js'
import type { AnyTaskDefinition, TaskContext } from '../../task/task.js'
import { withRemoteParent } from '../../tracing/remote-parent.js'
import { findTask } from './task-lookup.js'
import { type HostMessage, type ParentMessage, toWireError } from './wire.js'

type Send = (message: HostMessage) => void

const send: Send = isMainThread
  ? (message) => void process.send?.(message)
  : (message) => parentPort?.postMessage(message)
const modules = new Map<string, Promise<Record<string, unknown>>>()
const acks = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
let current: { runId: number; controller: AbortController } | undefined
let seq = 0

async function loadTask(module: string, name: string): Promise<AnyTaskDefinition> {
  let loading = modules.get(module)
  if (!loading) {
    loading = import(module) as Promise<Record<string, unknown>>
    modules.set(module, loading)
  }
  return findTask(await loading, name, module)
}

async function run(message: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
  const controller = new AbortController()
  current = { runId: message.runId, controller }
  const context: TaskContext = Object.freeze({
    ...message.context,
    signal: controller.signal,
    progress: (value: number | null, meta?: unknown) =>
      new Promise<void>((resolve, reject) => {
        seq += 1
        acks.set(seq, { resolve, reject })
        send({ type: 'progress', runId: message.runId, seq, value, meta })
      }),
    // durable steps need the worker's lease and connection: inline isolation only (docs/workflows.md)
    step: (name: string) => Promise.reject(unsupported(String(name), message.context.jobId)),
    sleep: () => Promise.reject(unsupported('ctx.sleep', message.context.jobId)),
  })
  let task: AnyTaskDefinition
  try {
    task = await loadTask(message.module, message.task)
  } catch (error) {
    // a module that does not load or lacks the task will not on a retry either: fail for good
    const { message: text, stack } = toWireError(error)
    send({
      type: 'done',
      runId: message.runId,
      ok: false,
      error: { name: 'PermanentError', message: text, stack },
    })
    return
  }
  let reply: HostMessage
  try {
    const payload = task.parsePayload
      ? await parsePayloadForRun(task.parsePayload, message.payload)
      : message.payload
    const value = await withRemoteParent(message.trace, () => task.handler(payload, context))
    reply = isSnooze(value)
      ? { type: 'done', runId: message.runId, ok: true, value: null, snoozeMs: value.delayMs }
      : { type: 'done', runId: message.runId, ok: true, value }
  } catch (error) {
    reply = { type: 'done', runId: message.runId, ok: false, error: toWireError(error) }
  }
  if (current?.runId === message.runId) current = undefined
  try {
    send(reply)
  } catch (error) {
    // the result cannot be cloned (a function, a class with private state): report that instead
    send({ type: 'done', runId: message.runId, ok: false, error: toWireError(error) })
  }
}

function unsupported(step: string, jobId: string): StepError {
  const mode = isMainThread ? 'process' : 'thread'
  return new StepError(
    'PGQ_STEP_UNSUPPORTED',
    step,
    `ctx.step and ctx.sleep need inline isolation; job ${jobId} runs its handler in a ${mode}`,
    { jobId, mode },
  )
}

function onMessage(message: ParentMessage): void {
  if (message.type === 'run') void run(message)
  else if (message.type === 'abort') {
    if (current?.runId !== message.runId) return
    const reason = message.reason as JobAbortedError['reason']
    current.controller.abort(new JobAbortedError(reason))
  } else if (message.type === 'progress-ack') {
    const ack = acks.get(message.seq)
    acks.delete(message.seq)
    if (!ack) return
    if (!message.error) ack.resolve()
    else {
      const error = new Error(message.error.message)
      error.name = message.error.name
      ack.reject(error)
    }
  }
}

if (isMainThread) {
  process.on('message', (message) => onMessage(message as ParentMessage))
  // a child process reports its fatal error before dying, so the attempt's error says what it was
  process.on('uncaughtException', (error) => {
    send({ type: 'crash', error: toWireError(error) })
    process.exit(70)
  })
} else {
  parentPort?.on('message', onMessage)
}
// the pool's module is imported before `ready`: a cold start is paid by the pool, not by an attempt
// (an import that fails is reported by the first run, as a PermanentError)
const preload: unknown = isMainThread ? process.argv[2] : (workerData as { module?: unknown } | null)?.module
if (typeof preload === 'string') {
  const loading = import(preload) as Promise<Record<string, unknown>>
  modules.set(preload, loading)
  await loading.catch(() => {})
}
send({ type: 'ready' })
// a handler process whose worker died (kill -9, crash) must not run on as an orphan
if (isMainThread) process.on('disconnect', () => process.exit(0))
