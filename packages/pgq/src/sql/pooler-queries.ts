// The statements of the pooler probe (db/pooler-probe.ts): which backend serves this connection.

import { type Executor, runQuery } from '../db/executor.js'

/**
 * @internal The server process behind the connection right now. With `name`, it runs as a named
 * prepared statement (node-postgres prepares it once per client connection, then only binds).
 */
export async function backendPid(db: Executor, name?: string): Promise<number> {
  const { rows } = await runQuery<{ pid: number }>(db, 'SELECT pg_backend_pid() AS pid', [], name)
  return rows[0]!.pid
}
