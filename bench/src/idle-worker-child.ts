// Child process of the idle-workers measurement: one pgq worker with its defaults, on a pool of its
// own whose `query` counts the statements the worker sends, the claim statements among them and
// the claims that came back empty. Reports when each job's handler starts, and its counters on
// request. Run only by idle-workers-measure.ts (fork).

import { createPgq, defineTask } from '@pgq/core'
import pg from 'pg'
import { epochMs } from './sql-names.js'

/** What the parent passes as argv[2] (JSON). */
export interface IdleChildArgs {
  /** Where the worker's statements go (PgBouncer's URL with `--pgbouncer`). */
  readonly poolUrl: string
  /** Where the LISTEN connection goes (always PostgreSQL itself). */
  readonly listenUrl: string
  readonly schema: string
  readonly task: string
}

/** The child's counters since it started. */
export interface IdleCounts {
  /** Every statement the worker sent through its pool (claims, outcomes, heartbeats, …). */
  readonly statements: number
  /** Claim statements (`… FOR UPDATE SKIP LOCKED` then `SET state = 'running'`). */
  readonly claims: number
  /** Claim statements that returned no job. */
  readonly emptyClaims: number
}

/** Messages from the child. */
export type IdleChildMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'started'; readonly id: number; readonly atMs: number }
  | { readonly kind: 'finished'; readonly jobId: string }
  | ({ readonly kind: 'counts' } & IdleCounts)

/** Messages to the child. */
export type IdleParentMessage = { readonly kind: 'counts' } | { readonly kind: 'stop' }

/** A job's payload: its sequence number in the run. */
export interface IdlePayload {
  readonly id: number
}

/** Whether a statement text is pgq's claim statement. */
function isClaim(text: string): boolean {
  return text.includes('FOR UPDATE SKIP LOCKED') && text.includes("SET state = 'running'")
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as IdleChildArgs
  const send = (message: IdleChildMessage) => process.send?.(message)
  const counts = { statements: 0, claims: 0, emptyClaims: 0 }
  // pgq's default pool size (10), made here so its `query` can be counted.
  const pool = new pg.Pool({ connectionString: args.poolUrl, max: 10, application_name: 'pgq_idle_worker' })
  pool.on('error', () => {})
  const query = pool.query.bind(pool) as (...a: unknown[]) => Promise<pg.QueryResult>
  ;(pool as unknown as { query: (...a: unknown[]) => Promise<pg.QueryResult> }).query = async (...a) => {
    counts.statements++
    const first = a[0]
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '')
    const claim = isClaim(text)
    if (claim) counts.claims++
    const result = await query(...a)
    if (claim && result.rowCount === 0) counts.emptyClaims++
    return result
  }
  const pgq = createPgq({ pool, schema: args.schema, listenConnectionString: args.listenUrl })
  const task = defineTask({
    name: args.task,
    handler: (payload: IdlePayload) => {
      send({ kind: 'started', id: payload.id, atMs: epochMs() })
    },
  })
  const worker = pgq.createWorker({ tasks: [task] })
  worker.on('job:succeeded', ({ job }) => send({ kind: 'finished', jobId: job.id }))
  worker.on('worker:error', ({ component, error }) =>
    process.stderr.write(`idle-worker-child ${process.pid}: ${component}: ${error.message}\n`),
  )
  process.on('message', async (message: IdleParentMessage) => {
    if (message.kind === 'counts') {
      send({ kind: 'counts', ...counts })
      return
    }
    await worker.stop()
    await pgq.close().catch(() => {})
    await pool.end().catch(() => {})
    process.exit(0)
  })
  await worker.start()
  send({ kind: 'ready' })
}

main().catch((error: unknown) => {
  process.stderr.write(
    `idle-worker-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
