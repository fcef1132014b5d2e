import { CompiledQuery } from 'kysely'
import type pg from 'pg'

/** Anything with node-postgres's `query(text, values)`: a `pg.Pool`, `pg.Client` or `PoolClient`. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>
}

/** A Kysely instance or transaction (anything with `executeQuery(compiledQuery)`). */
export interface KyselyLike {
  executeQuery(query: CompiledQuery): Promise<{ rows: unknown[]; numAffectedRows?: bigint }>
}

/**
 * Where a pgq statement runs: a `pg.Pool` (its own short transaction), a `pg.Client`/`PoolClient`
 * (possibly inside your `BEGIN`), or a Kysely instance or transaction. A job enqueued on a
 * connection inside a transaction commits or rolls back with that transaction.
 *
 * ```ts
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('users').values(user).execute()
 *   await pgq.enqueue(welcomeEmail, { userId: user.id }, { db: trx })
 * })
 * ```
 */
export type Executor = pg.Pool | pg.PoolClient | pg.Client | PgQueryable | KyselyLike

/** @internal The rows of one statement and how many rows it touched. */
export interface QueryResult<R> {
  readonly rows: R[]
  readonly rowCount: number
}

/** @internal Runs one parameterized statement on any {@link Executor}. */
export async function runQuery<R>(
  executor: Executor,
  text: string,
  values: unknown[] = [],
  name?: string,
): Promise<QueryResult<R>> {
  if (isKysely(executor)) {
    const result = await executor.executeQuery(CompiledQuery.raw(text, values))
    const affected =
      result.numAffectedRows === undefined ? result.rows.length : Number(result.numAffectedRows)
    return { rows: result.rows as R[], rowCount: affected }
  }
  // With a name, node-postgres prepares the statement once per connection (no parse/plan later).
  const result = name
    ? await (executor as pg.Pool).query({ name, text, values })
    : await (executor as PgQueryable).query(text, values)
  return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length }
}

/** @internal */
export function isKysely(executor: unknown): executor is KyselyLike {
  return typeof (executor as KyselyLike | undefined)?.executeQuery === 'function'
}

/** @internal True for values that can run a statement. */
export function isExecutor(value: unknown): value is Executor {
  return isKysely(value) || typeof (value as PgQueryable | undefined)?.query === 'function'
}
