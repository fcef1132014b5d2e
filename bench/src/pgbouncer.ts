// Debian's `pgbouncer` for the idle-workers measurement: transaction pooling on a free loopback
// port in front of one PostgreSQL, with the settings docs/operations.md documents plus an admin
// console (`SHOW POOLS`) so the measurement can read how many client and server connections it holds.
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@pgq/embedded'
import pg from 'pg'
import { sleep } from './sql-names.js'

/** A running PgBouncer. */
export interface BenchPgBouncer {
  /** The same database as the direct URL, through PgBouncer. */
  readonly url: string
  /** PgBouncer's version line (`SHOW VERSION`). */
  readonly version: string
  /** Client and server connections PgBouncer holds for the database, summed over its pools. */
  pools(): Promise<{ clients: number; servers: number }>
  stop(): Promise<void>
}

const BINARIES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']

function binary(): string {
  for (const path of BINARIES) {
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // try the next one
    }
  }
  throw new Error('pgbouncer is not installed: apt-get install -y --no-install-recommends pgbouncer')
}

/** Starts PgBouncer (transaction mode, `default_pool_size` 20) in front of `directUrl`'s server. */
export async function startBenchPgBouncer(directUrl: string, maxClients: number): Promise<BenchPgBouncer> {
  const direct = new URL(directUrl)
  const user = decodeURIComponent(direct.username)
  const dir = mkdtempSync(join(tmpdir(), 'pgq-bench-pgbouncer-'))
  chmodSync(dir, 0o755) // started as root, pgbouncer runs as the postgres user
  const authFile = join(dir, 'userlist.txt')
  writeFileSync(authFile, `"${user}" "${decodeURIComponent(direct.password)}"\n`, { mode: 0o644 })
  const port = await freePort()
  const ini = join(dir, 'pgbouncer.ini')
  const settings = [
    '[databases]',
    `* = host=${direct.hostname} port=${direct.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'pool_mode = transaction',
    `max_client_conn = ${maxClients}`,
    'default_pool_size = 20',
    'auth_type = trust',
    `auth_file = ${authFile}`,
    `admin_users = ${user}`,
    'server_reset_query =',
    'ignore_startup_parameters = extra_float_digits',
  ]
  writeFileSync(ini, `${settings.join('\n')}\n`, { mode: 0o644 })
  const child: ChildProcess = spawn(binary(), process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d) => {
    output += d
  })
  child.stderr?.on('data', (d) => {
    output += d
  })
  let exited = false
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  void exit.then(() => {
    exited = true
  })
  const through = (database: string) => {
    const url = new URL(directUrl)
    url.hostname = '127.0.0.1'
    url.port = String(port)
    url.pathname = `/${database}`
    return url.toString()
  }
  const admin = async <R extends pg.QueryResultRow>(statement: string): Promise<R[]> => {
    const client = new pg.Client({ connectionString: through('pgbouncer') })
    client.on('error', () => {})
    await client.connect()
    try {
      return (await client.query<R>(statement)).rows // simple protocol: the admin console needs it
    } finally {
      await client.end().catch(() => {})
    }
  }
  let version = ''
  for (let tries = 0; !version; tries++) {
    if (exited) throw new Error(`pgbouncer exited:\n${output}`)
    try {
      const rows = await admin<{ version: string }>('SHOW VERSION')
      version = rows[0]?.version ?? 'unknown'
    } catch (error) {
      if (tries > 200) throw new Error(`pgbouncer did not answer: ${String(error)}\n${output}`)
      await sleep(50)
    }
  }
  const database = decodeURIComponent(direct.pathname.slice(1))
  return {
    url: through(database),
    version,
    async pools() {
      const rows = await admin<Record<string, string>>('SHOW POOLS')
      let clients = 0
      let servers = 0
      for (const row of rows) {
        if (row.database !== database) continue
        clients += Number(row.cl_active) + Number(row.cl_waiting)
        servers += ['sv_active', 'sv_idle', 'sv_used', 'sv_tested', 'sv_login'].reduce(
          (sum, key) => sum + Number(row[key] ?? 0),
          0,
        )
      }
      return { clients, servers }
    },
    async stop() {
      if (!exited) child.kill('SIGTERM')
      await exit
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
