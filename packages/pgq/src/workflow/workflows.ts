import { FINAL_STATES, type JobState } from '../admin/job-record.js'
import type { Jobs } from '../admin/jobs.js'
import { prepareJob } from '../client/enqueue.js'
import type { WaitOptions } from '../client/result-waiter.js'
import { type Executor, isExecutor } from '../db/executor.js'
import type { SchemaNames } from '../db/schema-names.js'
import { PgqError, PgqValidationError } from '../errors.js'
import { cancelWorkflow, createWorkflow, getWorkflow, type WorkflowNodeRow } from '../sql/workflow-queries.js'
import type { AnyTaskDefinition } from '../task/task.js'
import { compileFlow, type Flow } from './canvas.js'

/** What a node failing for good does: cancel its dependants (default), or hand them its error. */
export type WorkflowPolicy = 'cancel' | 'continue'

/** Options of `pgq.workflows.create`. */
export interface CreateWorkflowOptions {
  /** Your connection or transaction: the whole graph commits or rolls back with your writes. */
  readonly db?: Executor
  /** Default `cancel`. `continue`: list inputs get a `MemberOutcome` per parent. */
  readonly policy?: WorkflowPolicy
  /** A label, shown by `get` (1-256 characters). */
  readonly name?: string
}

/** A created workflow: its id and every node's job id in creation order. */
export interface CreatedWorkflow<R> {
  readonly id: string
  readonly jobIds: readonly string[]
  /** Type-only marker of the workflow's result; never set. */
  readonly __result?: R
}

/** The state of a workflow: derived from its nodes (and its cancel). */
export type WorkflowState = 'running' | 'succeeded' | 'failed' | 'cancelled'

/** A workflow as `pgq.workflows.get` returns it. */
export interface WorkflowInfo {
  readonly id: string
  readonly name: string | null
  readonly policy: WorkflowPolicy
  readonly state: WorkflowState
  readonly createdAt: Date
  readonly cancelledAt: Date | null
  /** The nodes whose results make the workflow's result. */
  readonly outputIds: readonly string[]
  readonly nodes: readonly {
    readonly id: string
    readonly task: string
    readonly queue: string
    readonly state: string
    readonly result: unknown
    readonly errors: readonly unknown[]
    readonly parentIds: readonly string[]
  }[]
}

/** @internal What {@link Workflows} runs on. */
export interface WorkflowsDeps {
  readonly pool: Executor
  readonly names: SchemaNames
  readonly jobs: () => Jobs
  readonly maxPayloadBytes: number
  readonly cancelledRetentionMs: number
}

/**
 * Workflows (chain, group, chord) whose nodes are ordinary jobs: create one atomically, read its
 * nodes, wait for its result, cancel it. See docs/workflows.md.
 *
 * ```ts
 * const wf = await pgq.workflows.create(chain(job(transcode, { id }), group(step(thumbA), step(thumbB))), { db: trx })
 * const [a, b] = await pgq.workflows.waitFor(wf.id)
 * ```
 */
export class Workflows {
  readonly #deps: WorkflowsDeps

  /** @internal Use `pgq.workflows`. */
  constructor(deps: WorkflowsDeps) {
    this.#deps = Object.freeze({ ...deps })
  }

  /**
   * Creates every node of the flow in one statement on `options.db` (or pgq's pool): roll back
   * and nothing exists; commit and only the roots are runnable.
   *
   * ```ts
   * const wf = await pgq.workflows.create(chord(group(job(a, 1), job(a, 2)), step(sum)), { policy: 'continue' })
   * ```
   */
  async create<R>(flow: Flow<void, R>, options: CreateWorkflowOptions = {}): Promise<CreatedWorkflow<R>> {
    const compiled = compileFlow(flow as Flow<unknown, unknown>)
    const policy = options.policy ?? (compiled.settled ? 'continue' : 'cancel')
    if (policy !== 'cancel' && policy !== 'continue') {
      throw new PgqValidationError('options.policy', 'must be cancel or continue', policy)
    }
    if (compiled.settled && policy !== 'continue') {
      throw new PgqValidationError(
        'options.policy',
        'a flow with chordSettled() runs with the policy continue',
        policy,
      )
    }
    if (
      options.name !== undefined &&
      (typeof options.name !== 'string' || options.name.length < 1 || options.name.length > 256)
    ) {
      throw new PgqValidationError('options.name', 'must be a string of 1-256 characters', options.name)
    }
    if (options.db !== undefined && !isExecutor(options.db)) {
      throw new PgqValidationError(
        'options.db',
        'must be a pg Pool/Client, or a Kysely, Knex, Drizzle or Prisma instance or transaction',
      )
    }
    const nodes: WorkflowNodeRow[] = compiled.nodes.map((node, i) => {
      const path = `nodes[${i}].`
      const task = node.root || typeof node.task === 'string' ? node.task : node.task.name
      const defaults: Partial<AnyTaskDefinition> = typeof node.task === 'string' ? {} : node.task
      const { spec, payloadJson } = prepareJob(
        task,
        node.payload,
        {
          ...node.options,
          ...(node.options.queue === undefined && defaults.queue !== undefined
            ? { queue: defaults.queue }
            : {}),
          ...(node.options.priority === undefined && defaults.priority !== undefined
            ? { priority: defaults.priority }
            : {}),
          ...(node.options.maxAttempts === undefined && defaults.maxAttempts !== undefined
            ? { maxAttempts: defaults.maxAttempts }
            : {}),
        },
        this.#deps.maxPayloadBytes,
        path,
      )
      return {
        ...spec,
        payload: JSON.parse(payloadJson) as unknown,
        ...(node.after.length > 0 ? { after: node.after, input: node.input } : {}),
      }
    })
    const created = await createWorkflow(options.db ?? this.#deps.pool, this.#deps.names, {
      nodes,
      policy,
      name: options.name ?? null,
      output: compiled.output,
      outputList: compiled.outputList,
    })
    return { id: created.workflowId, jobIds: created.jobIds }
  }

  /**
   * A workflow with each node's state, result and errors; undefined when the id is unknown.
   *
   * ```ts
   * const wf = await pgq.workflows.get(id)
   * console.log(wf?.state, wf?.nodes.map((n) => n.state))
   * ```
   */
  async get(id: string): Promise<WorkflowInfo | undefined> {
    const row = await getWorkflow(this.#deps.pool, this.#deps.names, assertId(id))
    if (!row) return undefined
    // an expired node ends its workflow like a failed or cancelled one
    const final = (s: string) => FINAL_STATES.includes(s as JobState)
    const byId = new Map(row.nodes.map((n) => [n.id, n]))
    const outputs = row.output_ids.map((o) => byId.get(o)?.state ?? 'succeeded')
    const state: WorkflowState = row.cancelled_at
      ? 'cancelled'
      : !row.nodes.every((n) => final(n.state))
        ? 'running'
        : outputs.every((s) => s === 'succeeded')
          ? 'succeeded'
          : 'failed'
    return {
      id: row.id,
      name: row.name,
      policy: row.policy,
      state,
      createdAt: row.created_at,
      cancelledAt: row.cancelled_at,
      outputIds: row.output_ids,
      nodes: row.nodes.map((n) => ({ ...n, parentIds: n.parents })),
    }
  }

  /**
   * Resolves with the workflow's result (its last node's result, or the array of its output
   * nodes' results for a group) once they succeeded; rejects like `pgq.jobs.waitFor` when one
   * failed, was cancelled or expired, and with `PGQ_WORKFLOW_NOT_FOUND` for an unknown id.
   *
   * ```ts
   * const summary = await pgq.workflows.waitFor(wf.id, { timeoutMs: 60_000 })
   * ```
   */
  async waitFor<R = unknown>(id: string, options: WaitOptions = {}): Promise<R> {
    const row = await getWorkflow(this.#deps.pool, this.#deps.names, assertId(id))
    if (!row)
      throw new PgqError('PGQ_WORKFLOW_NOT_FOUND', `workflow ${id} does not exist`, { workflowId: id })
    const jobs = this.#deps.jobs()
    const results = await Promise.all(row.output_ids.map((jobId) => jobs.waitFor(jobId, options)))
    return (row.output_list ? results : results[0]) as R
  }

  /**
   * Cancels a workflow: nodes not started become `cancelled` at once (no node starts afterwards);
   * running nodes are asked to stop (their handler's signal aborts). Resolves with the counts, or
   * undefined for an unknown id.
   *
   * ```ts
   * await pgq.workflows.cancel(wf.id)
   * ```
   */
  async cancel(id: string): Promise<{ cancelled: number; cancelRequested: number } | undefined> {
    return cancelWorkflow(this.#deps.pool, this.#deps.names, {
      id: assertId(id),
      retentionMs: this.#deps.cancelledRetentionMs,
    })
  }
}

function assertId(id: unknown): string {
  if (typeof id !== 'string' || !/^[1-9][0-9]{0,18}$/.test(id)) {
    throw new PgqValidationError('id', 'must be a workflow id (a positive integer as a string)', id)
  }
  return id
}
