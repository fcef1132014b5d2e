// Kysely as a query builder only: pgq's dynamic statements (admin filters, listings) are built and
// compiled here, then run with runQuery on any Executor (pool, client or the caller's Kysely), so
// they join the caller's transaction like every other pgq statement. Hot-path statements stay as
// named SQL text in the other sql/*.ts files.
import {
  type CompiledQuery,
  DummyDriver,
  type Expression,
  expressionBuilder,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type SqlBool,
} from 'kysely'
import type { ResolvedFilter } from '../admin/job-filter.js'
import { type Executor, type QueryResult, runQuery } from '../db/executor.js'
import type { JobsTable, PgqTables } from '../db/tables.js'

/** @internal Compiles PostgreSQL; it has no connection (its driver refuses to run anything). */
export const builder = new Kysely<PgqTables>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

/** @internal Runs a compiled query on any executor. */
export function runCompiled<R>(db: Executor, query: CompiledQuery): Promise<QueryResult<R>> {
  return runQuery<R>(db, query.sql, [...query.parameters])
}

/** The jobs table under the alias `j`, as the filter expressions see it. */
type JobsAsJ = { j: JobsTable }

/**
 * @internal The predicate of a job filter on `j`: only the conditions given become SQL (lists as
 * `= ANY($n)`, one parameter each), so the planner sees the real query instead of a catch-all
 * `($n IS NULL OR …)` chain. An empty filter is `true`.
 */
export function jobFilterCondition(filter: ResolvedFilter): Expression<SqlBool> {
  const eb = expressionBuilder<JobsAsJ, 'j'>()
  const conditions: Expression<SqlBool>[] = []
  if (filter.ids) conditions.push(eb('j.id', '=', eb.fn.any(eb.val(filter.ids))))
  if (filter.states) conditions.push(eb('j.state', '=', eb.fn.any(eb.val(filter.states))))
  if (filter.tasks) conditions.push(eb('j.task', '=', eb.fn.any(eb.val(filter.tasks))))
  if (filter.queues) conditions.push(eb('j.queue', '=', eb.fn.any(eb.val(filter.queues))))
  if (filter.dedupKey !== null) conditions.push(eb('j.dedup_key', '=', filter.dedupKey))
  if (filter.workflowId !== null) conditions.push(eb('j.workflow_id', '=', filter.workflowId))
  if (filter.finishedBefore) conditions.push(eb('j.finished_at', '<', filter.finishedBefore))
  return eb.and(conditions)
}
