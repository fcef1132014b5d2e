// The hook for "recently gone" workers. Migration 0008 (another change) records workers that
// stopped or died; until it exists this returns no rows, and the workers page shows "None recorded".
// TODO(migration 0008): read the gone-workers table here (newest first, the last hour) and map its
// rows to GoneWorker; nothing else in the dashboard needs to change.
import type { GoneWorker } from './pages/workers.js'
import type { Db, Names } from './sql/dashboard-queries.js'

/** Workers that stopped or died recently, newest first (none until migration 0008 exists). */
export async function listGoneWorkers(_db: Db, _names: Names): Promise<GoneWorker[]> {
  return []
}
