import type pg from 'pg'

const guarded = new WeakSet<pg.Pool>()
const ignore = () => {}

/**
 * @internal Gives every client the pool connects from now on a permanent no-op `error` listener.
 * pg-pool listens for a client's `error` only while the client is idle (its idle listener) or once
 * per `pool.query` (`client.once('error')`): when a backend is terminated, a client can emit a
 * second `error` (the server's FATAL message, then the socket's) after that one listener was used
 * up, or while the pool is closing it, and an `error` with no listener crashes the process. The
 * failures themselves still reach pgq, as rejected queries and the pool's own `error` event.
 * Idempotent per pool.
 *
 * ```ts
 * guardPoolClients(pool) // before the pool's first connection where possible
 * ```
 */
export function guardPoolClients(pool: pg.Pool): void {
  if (guarded.has(pool)) return
  guarded.add(pool)
  pool.on('connect', (client) => {
    client.on('error', ignore)
  })
}
