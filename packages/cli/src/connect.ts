// Waiting for the database when a long-running command starts: a worker started by a supervisor
// (systemd, Compose, Kubernetes) often starts before PostgreSQL accepts connections.

import type { Logger } from '@pgq/core'
import type pg from 'pg'
import { CliExit, EXIT_CODES, isConnectionError } from './lifetime.js'

/**
 * Resolves once `pool` can open a connection. While the server is unreachable it retries with
 * backoff (250 ms doubling to 5 s), logging one line when it starts waiting and one when the
 * database answers; after `timeoutMs` it throws a {@link CliExit} with code 69. Any other error
 * (a wrong password, no such database) is thrown at once.
 *
 * ```ts
 * await waitForDatabase(pool, 60_000, logger) // then worker.start()
 * ```
 */
export async function waitForDatabase(pool: pg.Pool, timeoutMs: number, logger: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let delay = 250
  let waiting = false
  for (;;) {
    try {
      const client = await pool.connect()
      client.release()
      if (waiting) logger.info('database reachable')
      return
    } catch (error) {
      if (!isConnectionError(error)) throw error
      const message = error instanceof Error ? error.message : String(error)
      if (Date.now() + delay > deadline) {
        throw new CliExit(
          EXIT_CODES.unavailable,
          `database unreachable for ${timeoutMs} ms (--connect-timeout): ${message}`,
          { cause: error },
        )
      }
      if (!waiting) {
        logger.warn('database unreachable; retrying until it answers', {
          error: message,
          timeout_ms: timeoutMs,
        })
        waiting = true
      }
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay = Math.min(delay * 2, 5000)
    }
  }
}
