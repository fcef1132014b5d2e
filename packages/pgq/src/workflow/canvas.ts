// The workflow builders (Celery's canvas): job(), step(), chain(), group(), chord(). They only
// describe a graph; pgq.workflows.create() compiles it into nodes (compileFlow) and creates every
// node in one call on the caller's executor.
import type { EnqueueOptions } from '../client/enqueue.js'
import { PgqValidationError } from '../errors.js'
import type { AnyTaskDefinition, TaskDefinition } from '../task/task.js'

/** Options of one workflow node: an ordinary job's routing and retry settings. */
export type NodeOptions = Pick<EnqueueOptions, 'queue' | 'priority' | 'maxAttempts' | 'delayMs'>

declare const FLOW_TYPES: unique symbol

/**
 * A piece of a workflow that takes `In` (the previous piece's result; `void` for a piece that
 * starts with its own payload) and produces `Out`. Built with {@link job}, {@link step},
 * {@link chain}, {@link group} and {@link chord}; created with `pgq.workflows.create`.
 *
 * ```ts
 * const flow: Flow<void, string> = chain(job(fetchPage, { url }), step(extractTitle))
 * ```
 */
export interface Flow<In, Out> {
  /** @internal */
  readonly node: FlowNode
  /** Type-only marker: never set at run time. */
  readonly [FLOW_TYPES]?: (input: In) => Out
}

/** @internal The untyped description a {@link Flow} carries. */
export type FlowNode =
  | {
      readonly kind: 'job'
      readonly task: AnyTaskDefinition | string
      readonly payload: unknown
      readonly options: NodeOptions
    }
  | { readonly kind: 'step'; readonly task: AnyTaskDefinition | string; readonly options: NodeOptions }
  | { readonly kind: 'chain'; readonly parts: readonly FlowNode[]; readonly settled?: boolean }
  | { readonly kind: 'group'; readonly members: readonly FlowNode[] }

/** What a Flow or a task definition gives as the next piece of a chain. */
export type FlowLike<In, Out> = Flow<In, Out> | TaskDefinition<In, Out>

function nodeOf(piece: unknown, path: string): FlowNode {
  if (piece && typeof piece === 'object' && 'node' in piece) return (piece as Flow<unknown, unknown>).node
  if (piece && typeof piece === 'object' && 'retryPolicy' in piece) {
    return { kind: 'step', task: piece as AnyTaskDefinition, options: {} }
  }
  throw new PgqValidationError(
    path,
    'must be a workflow piece (job, step, chain, group, chord) or a task definition',
    piece,
  )
}

/**
 * A node that starts a workflow (or a branch of a group) with its own payload.
 *
 * ```ts
 * const start = job(transcode, { videoId: 'v1' }, { queue: 'video' })
 * ```
 */
export function job<P, R>(
  task: TaskDefinition<P, R> | string,
  payload: P,
  options: NodeOptions = {},
): Flow<void, R> {
  return { node: { kind: 'job', task, payload, options } }
}

/**
 * A node that runs after the previous piece and receives its result as payload (a list of results,
 * in member order, after a group). A task definition given directly to `chain` is the same as
 * `step(task)`.
 *
 * ```ts
 * chain(job(resize, { id }), step(publish, { queue: 'web' }))
 * ```
 */
export function step<P, R>(task: TaskDefinition<P, R> | string, options: NodeOptions = {}): Flow<P, R> {
  return { node: { kind: 'step', task, options } }
}

/**
 * Runs each piece after the previous one succeeded, handing it the previous result. The result is
 * the last piece's result.
 *
 * ```ts
 * const flow = chain(job(add, [2, 2]), step(double), step(format)) // Flow<void, string>
 * ```
 */
export function chain<I, A, B>(a: FlowLike<I, A>, b: FlowLike<A, B>): Flow<I, B>
export function chain<I, A, B, C>(a: FlowLike<I, A>, b: FlowLike<A, B>, c: FlowLike<B, C>): Flow<I, C>
export function chain<I, A, B, C, D>(
  a: FlowLike<I, A>,
  b: FlowLike<A, B>,
  c: FlowLike<B, C>,
  d: FlowLike<C, D>,
): Flow<I, D>
export function chain<I, A, B, C, D, E>(
  a: FlowLike<I, A>,
  b: FlowLike<A, B>,
  c: FlowLike<B, C>,
  d: FlowLike<C, D>,
  e: FlowLike<D, E>,
): Flow<I, E>
export function chain<I, A, B, C, D, E, F>(
  a: FlowLike<I, A>,
  b: FlowLike<A, B>,
  c: FlowLike<B, C>,
  d: FlowLike<C, D>,
  e: FlowLike<D, E>,
  f: FlowLike<E, F>,
): Flow<I, F>
export function chain(...parts: FlowLike<unknown, unknown>[]): Flow<unknown, unknown>
export function chain(...parts: FlowLike<unknown, unknown>[]): Flow<unknown, unknown> {
  if (parts.length === 0) throw new PgqValidationError('chain', 'needs at least one piece')
  return { node: { kind: 'chain', parts: parts.map((p, i) => nodeOf(p, `chain[${i}]`)) } }
}

/** The results of a group's members, in member order. */
export type GroupResults<M extends readonly unknown[]> = {
  -readonly [K in keyof M]: ResultOf<M[K]>
}

/** The result type of a flow piece or a task definition. */
// biome-ignore lint/suspicious/noExplicitAny: only the result type is read
type ResultOf<T> = T extends Flow<any, infer R> ? R : T extends { readonly __result?: infer R } ? R : never

/**
 * Runs its members in parallel (each receives the same input when the group follows another
 * piece). Its result is the members' results in member order (nested groups are flattened).
 *
 * ```ts
 * const thumbs = group(job(thumb, { at: 1 }), job(thumb, { at: 5 })) // Flow<void, [Url, Url]>
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: members may take any input; InputOf reads it
export function group<M extends readonly FlowLike<any, unknown>[]>(
  ...members: M
): Flow<InputOf<M[number]>, GroupResults<M>> {
  if (members.length === 0) throw new PgqValidationError('group', 'needs at least one member')
  return { node: { kind: 'group', members: members.map((m, i) => nodeOf(m, `group[${i}]`)) } }
}

/** The input type of a flow piece or a task definition. */
// biome-ignore lint/suspicious/noExplicitAny: only the input type is read
type InputOf<T> = T extends Flow<infer I, any> ? I : T extends TaskDefinition<infer P, any> ? P : never

/**
 * Runs `callback` once, after every member of `header` finished, with their results in member
 * order (`chain(header, callback)`). With the workflow policy `continue` the callback receives a
 * {@link MemberOutcome} per member instead.
 *
 * ```ts
 * const flow = chord(group(...pages.map((p) => job(render, p))), step(bundle))
 * ```
 */
export function chord<I, Rs, R>(header: Flow<I, Rs>, callback: FlowLike<Rs, R>): Flow<I, R> {
  return chain(header, callback)
}

/** A {@link MemberOutcome} per member of a group's results tuple. */
export type Settled<Rs> = Rs extends readonly unknown[]
  ? { -readonly [K in keyof Rs]: MemberOutcome<Rs[K]> }
  : never

/**
 * A chord whose callback runs whatever its members' outcomes, receiving a {@link MemberOutcome}
 * per member: the workflow runs with the policy `continue` (the default once a flow contains one).
 *
 * ```ts
 * const flow = chordSettled(group(job(fetch, a), job(fetch, b)), step(report)) // report: Task<MemberOutcome<Page>[]>
 * ```
 */
export function chordSettled<I, Rs, R>(
  header: Flow<I, Rs>,
  callback:
    | FlowLike<Settled<Rs>, R>
    | FlowLike<MemberOutcome<Rs extends readonly (infer E)[] ? E : never>[], R>,
): Flow<I, R> {
  return {
    node: {
      kind: 'chain',
      parts: [nodeOf(header, 'chordSettled[0]'), nodeOf(callback, 'chordSettled[1]')],
      settled: true,
    },
  }
}

/**
 * What a list input holds per parent under the workflow policy `continue`: the result, or the
 * error entry of the member that failed for good (or was cancelled).
 *
 * ```ts
 * const ok = outcomes.filter((o): o is { ok: true; result: Url } => o.ok).map((o) => o.result)
 * ```
 */
export type MemberOutcome<R> =
  | { readonly ok: true; readonly result: R }
  | { readonly ok: false; readonly error: { readonly name?: string; readonly message?: string } }

/** @internal One compiled node: the job, its parents (node positions) and how its input is built. */
export interface CompiledNode {
  readonly task: AnyTaskDefinition | string
  readonly payload: unknown
  readonly root: boolean
  readonly options: NodeOptions
  readonly after: readonly number[]
  readonly input: 'value' | 'list'
}

/** @internal Flattens a flow into nodes in creation order; returns the output positions. */
export function compileFlow(flow: Flow<unknown, unknown>): {
  nodes: CompiledNode[]
  output: number[]
  outputList: boolean
  settled: boolean
} {
  const nodes: CompiledNode[] = []
  let settled = false
  const visit = (
    node: FlowNode,
    parents: number[],
    list: boolean,
    path: string,
  ): { out: number[]; list: boolean } => {
    switch (node.kind) {
      case 'job':
        if (parents.length > 0) {
          throw new PgqValidationError(
            path,
            'job() carries its own payload and can only start a workflow or a branch; use step() after another piece',
          )
        }
        nodes.push({
          task: node.task,
          payload: node.payload,
          root: true,
          options: node.options,
          after: [],
          input: 'value',
        })
        return { out: [nodes.length - 1], list: false }
      case 'step':
        if (parents.length === 0) {
          throw new PgqValidationError(
            path,
            'step() receives the previous result and cannot start a workflow; use job(task, payload)',
          )
        }
        nodes.push({
          task: node.task,
          payload: null,
          root: false,
          options: node.options,
          after: parents,
          input: list ? 'list' : 'value',
        })
        return { out: [nodes.length - 1], list: false }
      case 'chain': {
        if (node.settled) settled = true
        let current = { out: parents, list }
        node.parts.forEach((part, i) => {
          current = visit(part, current.out, current.list, `${path}[${i}]`)
        })
        return current
      }
      case 'group': {
        const out: number[] = []
        node.members.forEach((member, i) => {
          out.push(...visit(member, parents, list, `${path}[${i}]`).out)
        })
        return { out, list: true }
      }
    }
  }
  const result = visit(flow.node, [], false, 'workflow')
  return { nodes, output: result.out, outputList: result.list, settled }
}
