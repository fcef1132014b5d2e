// The program a handler thread or handler process runs: it imports task modules, runs one
// handler at a time on request, and reports progress and the outcome to its parent.
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { JobTransactionError } from '../../errors.js'
import { isSnooze, JobAbortedError, PermanentError } from '../../task/job-outcome.js'
import { parsePayloadForRun, payloadValidatorOf } from '../../task/payload-validation.js'
import { assertStepName, duplicateStep, StepError } from '../../task/step-errors.js'
import type { AnyTaskDefinition, TaskContext } from '../../task/task.js'
import { withRemoteParent } from '../../tracing/remote-parent.js'
import { findTask } from './task-lookup.js'
import { type HostMessage, type ParentMessage, toWireError } from './wire.js'

type Send = (message: HostMessage) => void

const send: Send = isMainThread
  ? (message) => void process.send?.(message)
  : (message) => parentPort?.postMessage(message)
const modules = new Map<string, Promise<Record<string, unknown>>>()
const acks = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
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
  const used = new Set<string>() // step names of this run
  const context: TaskContext = Object.freeze({
    ...message.context,
    signal: controller.signal,
    progress: (value: number | null, meta?: unknown) =>
      request((n) => ({ type: 'progress', runId: message.runId, seq: n, value, meta })).then(() => {}),
    // durable steps: stored results come with the run; new ones are stored by the worker (fenced)
    step: async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
      const { jobId } = message.context
      assertStepName(name, jobId)
      if (used.has(name)) throw duplicateStep(name, jobId)
      used.add(name)
      if (message.steps && Object.hasOwn(message.steps, name)) {
        return (message.steps[name] as { result?: unknown }).result as T
      }
      const value = await fn()
      return (await request((n) => ({ type: 'step', runId: message.runId, seq: n, name, value }))) as T
    },
    sleep: (duration: number | string) =>
      request((n) => ({ type: 'sleep', runId: message.runId, seq: n, duration })).then(() => {}),
    // the worker's connection cannot cross into a thread or process: a retry cannot fix that
    transaction: () => {
      const { jobId, attempt } = message.context
      const refused = new JobTransactionError(jobId, attempt, 'isolated')
      return Promise.reject(new PermanentError(refused.message, { cause: refused }))
    },
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
    const check = payloadValidatorOf(task)
    const payload = check
      ? await parsePayloadForRun(check.validator, message.payload, check.label)
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

/** Sends a message the worker answers with an ack of the same `seq`; resolves with its value. */
function request(build: (seq: number) => HostMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    seq += 1
    const mine = seq
    acks.set(mine, { resolve, reject })
    try {
      send(build(mine))
    } catch (error) {
      // a step result that cannot be cloned (a function, a class with private state)
      acks.delete(mine)
      const text = (error as Error).message
      reject(new StepError('PGQ_STEP_RESULT', '', `ctx.step result cannot be sent to the worker: ${text}`))
    }
  })
}

function onMessage(message: ParentMessage): void {
  if (message.type === 'run') void run(message)
  else if (message.type === 'abort') {
    if (current?.runId !== message.runId) return
    const reason = message.reason as JobAbortedError['reason']
    current.controller.abort(new JobAbortedError(reason))
  } else if (message.type === 'progress-ack' || message.type === 'step-ack') {
    const ack = acks.get(message.seq)
    acks.delete(message.seq)
    if (!ack) return
    if (!message.error) ack.resolve(message.type === 'step-ack' ? message.value : undefined)
    else {
      // name and code kept: a StepError stays permanent once it crosses back with the handler's error
      const error = new Error(message.error.message) as Error & { code?: string }
      error.name = message.error.name
      if (message.error.code !== undefined) error.code = message.error.code
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
