import type { CompiledQuery } from 'kysely'
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
 * A Knex instance or transaction (`knex` or the `trx` of `knex.transaction`) on the `pg` driver:
 * pgq runs its statements through `raw`, with `?` bindings.
 *
 * ```ts
 * await knex.transaction((trx) => pgq.enqueue(sendEmail, { to }, { db: trx }))
 * ```
 */
export interface KnexLike {
  (...args: never[]): unknown
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>
  readonly client: object
}

/**
 * A Drizzle database or transaction on the node-postgres driver (`drizzle(pool)` and the `tx` of
 * `db.transaction`): pgq runs its statements on the `pg` client underneath (`tx.session.client`).
 *
 * ```ts
 * await db.transaction((tx) => pgq.enqueue(sendEmail, { to }, { db: tx }))
 * ```
 */
export interface DrizzleLike {
  execute(...args: never[]): PromiseLike<unknown>
  transaction(...args: never[]): PromiseLike<unknown>
}

/**
 * A Prisma client or interactive transaction client (`prisma.$transaction(async (tx) => …)`):
 * pgq runs its statements with `$queryRawUnsafe(text, ...values)`.
 *
 * ```ts
 * await prisma.$transaction((tx) => pgq.enqueue(sendEmail, { to }, { db: tx }))
 * ```
 */
export interface PrismaLike {
  $queryRawUnsafe(query: string, ...values: unknown[]): PromiseLike<unknown>
}

/**
 * Where a pgq statement runs: a `pg.Pool` (its own short transaction), a `pg.Client`/`PoolClient`
 * (possibly inside your `BEGIN`), a Kysely, Knex, Drizzle (node-postgres) or Prisma instance or
 * transaction. A job enqueued on a transaction commits or rolls back with that transaction. The
 * ORMs are recognised by shape; pgq depends on none of them.
 *
 * ```ts
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('users').values(user).execute()
 *   await pgq.enqueue(welcomeEmail, { userId: user.id }, { db: trx })
 * })
 * ```
 */
export type Executor =
  | pg.Pool
  | pg.PoolClient
  | pg.Client
  | PgQueryable
  | KyselyLike
  | KnexLike
  | DrizzleLike
  | PrismaLike

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
    // loaded here, not at import: a caller with a Kysely has it loaded already, others never need it
    const { CompiledQuery } = await import('kysely')
    const result = await executor.executeQuery(CompiledQuery.raw(text, values))
    const affected =
      result.numAffectedRows === undefined ? result.rows.length : Number(result.numAffectedRows)
    return { rows: result.rows as R[], rowCount: affected }
  }
  if (isKnex(executor)) {
    const result = (await executor.raw(...toKnexBindings(text, values))) as pg.QueryResult
    return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length }
  }
  if (isPrisma(executor)) {
    const rows = (await executor.$queryRawUnsafe(text, ...values)) as R[]
    return { rows, rowCount: rows.length }
  }
  const queryable = drizzleClient(executor) ?? executor
  // With a name, node-postgres prepares the statement once per connection (no parse/plan later).
  const result = name
    ? await (queryable as pg.Pool).query({ name, text, values })
    : await (queryable as PgQueryable).query(text, values)
  return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length }
}

/** @internal */
export function isKysely(executor: unknown): executor is KyselyLike {
  return typeof (executor as KyselyLike | undefined)?.executeQuery === 'function'
}

function isKnex(executor: unknown): executor is KnexLike {
  if (typeof executor !== 'function') return false
  const knex = executor as unknown as { raw?: unknown; client?: unknown }
  return typeof knex.raw === 'function' && typeof knex.client === 'object' && knex.client !== null
}

function isPrisma(executor: unknown): executor is PrismaLike {
  return typeof (executor as Partial<PrismaLike> | undefined)?.$queryRawUnsafe === 'function'
}

/** The `pg` client under a Drizzle node-postgres database or transaction, if it is one. */
function drizzleClient(executor: unknown): PgQueryable | undefined {
  if (typeof (executor as PgQueryable | undefined)?.query === 'function') return undefined
  const client = (executor as { session?: { client?: unknown } } | undefined)?.session?.client
  return typeof (client as PgQueryable | undefined)?.query === 'function'
    ? (client as PgQueryable)
    : undefined
}

/**
 * pgq's `$n` parameters as Knex's `?` bindings: each `$n` becomes `?` with its value in order of
 * appearance; a literal `?` (a jsonb operator) is escaped so that Knex leaves it alone.
 */
function toKnexBindings(text: string, values: readonly unknown[]): [string, unknown[]] {
  const bindings: unknown[] = []
  const sql = text.replace(/\?|\$(\d+)/g, (_match, n: string | undefined) => {
    if (n === undefined) return '\\?'
    bindings.push(values[Number(n) - 1])
    return '?'
  })
  return [sql, bindings]
}

/** @internal True for values that can run a statement. */
export function isExecutor(value: unknown): value is Executor {
  return (
    isKysely(value) ||
    isKnex(value) ||
    isPrisma(value) ||
    drizzleClient(value) !== undefined ||
    typeof (value as PgQueryable | undefined)?.query === 'function'
  )
}
