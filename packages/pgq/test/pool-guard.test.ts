// A pool client whose backend is terminated while it is checked out (between queries) emits
// `error` with no listener of pg-pool's on it: without the guard that error is thrown out of the
// socket's event handler and crashes the process (vitest reports it as an unhandled error).
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { guardPoolClients } from '../src/db/pool-guard.js'
import { databaseUrl } from './test-database.js'

const admin = new pg.Pool({ connectionString: databaseUrl(), max: 1 })
afterAll(async () => {
  await admin.end()
})

it('a checked-out client whose backend is terminated does not crash the process', async () => {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  const poolErrors: Error[] = []
  pool.on('error', (error) => poolErrors.push(error))
  guardPoolClients(pool)
  const client = await pool.connect()
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const uncaught: unknown[] = []
  const onUncaught = (error: unknown) => uncaught.push(error)
  process.on('uncaughtException', onUncaught)
  try {
    // watch the socket, not the client (a listener on the client is what the guard adds)
    const stream = (client as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream
    const closed = new Promise((resolve) => stream.once('close', resolve))
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    await closed // the server's FATAL message and the end of the socket reached the idle client
    await expect(client.query('SELECT 1')).rejects.toThrow()
    expect(uncaught).toEqual([])
  } finally {
    process.off('uncaughtException', onUncaught)
    client.release(true)
    await pool.end()
  }
}, 15_000)
