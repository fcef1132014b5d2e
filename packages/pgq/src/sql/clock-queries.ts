import { type Executor, runQuery } from '../db/executor.js'

/**
 * @internal pgq's one clock: the database's `now()` (the transaction's start time when `db` is in a
 * transaction), so every process agrees on time whatever its own clock says. `now` replaces it in
 * tests of time-dependent logic.
 */
export async function databaseNow(db: Executor, now?: Date): Promise<Date> {
  const result = await runQuery<{ now: Date }>(db, 'SELECT coalesce($1::timestamptz, now()) AS now', [
    now ?? null,
  ])
  return result.rows[0]!.now
}
