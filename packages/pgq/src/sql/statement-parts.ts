import { createHash } from 'node:crypto'
import type { SchemaNames } from '../db/schema-names.js'

// Pieces the worker's statements share (worker-queries.ts, lease-queries.ts).

/**
 * @internal A CTE that makes the statement's own transaction commit asynchronously (no wait for the WAL
 * flush) unless the boolean parameter `param` is true (the worker's `synchronousCommit`), which
 * keeps the server's setting. Used only for the worker's bookkeeping (claims, outcomes), never for
 * enqueue: if PostgreSQL itself crashes, the last few hundred ms of bookkeeping may be lost, and
 * the jobs concerned run again once their lease expires — the at-least-once guarantee holds.
 * Statements that use it must reference `async_commit` so it is evaluated.
 */
export function asyncCommit(param: string): string {
  return `async_commit AS (
       SELECT set_config('synchronous_commit',
                         CASE WHEN ${param}::bool THEN current_setting('synchronous_commit') ELSE 'off' END, true) AS setting
     )`
}

/**
 * The name under which a hot statement is prepared per connection, or undefined when prepared
 * statements are off (PgBouncer in transaction mode before 1.21 cannot keep them).
 */
export function statementName(prepared: boolean, query: string, names: SchemaNames): string | undefined {
  if (!prepared) return undefined
  const name = `pgq_${query}_${names.schema}`
  return name.length <= 63
    ? name
    : `pgq_${query}_${createHash('sha1').update(names.schema).digest('hex').slice(0, 16)}`
}

/**
 * The rows of `source` (a query with an `id` column) whose jobs are now locked, in id order, for a
 * statement that updates several jobs. The heartbeat, the completer and shutdown each update many
 * of a worker's jobs at once, from different connections; taking the row locks in one global order
 * means they wait for each other instead of deadlocking.
 *
 * Each lock is one primary-key probe, whatever the planner knows: the lateral lookup cannot be
 * turned into a scan of the table. A join (or \`id = ANY(list)\`) could, and on a table without
 * statistics (a fresh install) was, with a cost growing with table size × batch. The statement then
 * updates \`FROM locked\` joined on id and lease token alone, without \`state = 'running'\` (a
 * token implies it, jobs_lease_check): naming the state let the planner drive the join from the
 * running rows, which statistics taken while none ran put at one, in a nested loop that grew with
 * the batch squared.
 */
export function lockedInIdOrder(names: SchemaNames, source: string): string {
  return `SELECT h.* FROM (${source} ORDER BY id) AS h
       CROSS JOIN LATERAL (SELECT FROM ${names.jobs} AS l WHERE l.id = h.id FOR UPDATE) AS l`
}

// Every statement a worker runs about jobs it holds is fenced: it applies only while the job is
// still `running` under the same `lease_token`. Zero rows back means the lease was lost.
