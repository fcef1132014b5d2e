// Starts Debian's `pgbouncer` (apt package `pgbouncer`; .ci/run installs it) on a free loopback
// port in front of the test PostgreSQL, with the settings docs/operations.md documents.
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort } from '../../embedded/src/ports.js'
import { waitFor } from './test-database.js'

export interface PgBouncer {
  /** The same database as `directUrl`, through PgBouncer. */
  readonly url: string
  /** Everything PgBouncer logged so far. */
  log(): string
  stop(): Promise<void>
}

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']

/** The pgbouncer binary; throws (never skips) when it is not installed. */
export function pgbouncerBinary(): string {
  for (const path of CANDIDATES) {
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // next
    }
  }
  throw new Error('pgbouncer is not installed: apt-get install -y --no-install-recommends pgbouncer')
}

/** The settings the tests (and docs/operations.md) use, for a server at `host:port`. */
export function pgbouncerIni(options: {
  host: string
  port: number
  listenPort: number
  authFile: string
}): string {
  return `[databases]
* = host=${options.host} port=${options.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${options.listenPort}
unix_socket_dir =
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
auth_type = trust
auth_file = ${options.authFile}
server_reset_query =
ignore_startup_parameters = extra_float_digits
`
}

/** Starts pgbouncer in transaction mode in front of `directUrl`'s server. */
export async function startPgBouncer(directUrl: string): Promise<PgBouncer> {
  const binary = pgbouncerBinary()
  const direct = new URL(directUrl)
  const user = decodeURIComponent(direct.username)
  const password = decodeURIComponent(direct.password)
  const dir = mkdtempSync(join(tmpdir(), 'pgq-pgbouncer-'))
  chmodSync(dir, 0o755) // pgbouncer drops to the postgres user when started as root
  const authFile = join(dir, 'userlist.txt')
  writeFileSync(authFile, `"${user}" "${password}"\n`, { mode: 0o644 })
  const listenPort = await freePort()
  const ini = join(dir, 'pgbouncer.ini')
  writeFileSync(
    ini,
    pgbouncerIni({ host: direct.hostname, port: Number(direct.port || 5432), listenPort, authFile }),
    { mode: 0o644 },
  )
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini]
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => {
    output += d
  })
  child.stderr!.on('data', (d) => {
    output += d
  })
  let exited = false
  const exit = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true
      resolve()
    })
  })
  const pooled = new URL(directUrl)
  pooled.hostname = '127.0.0.1'
  pooled.port = String(listenPort)
  const url = pooled.toString()
  await waitFor(
    async () => {
      if (exited) throw new Error(`pgbouncer exited:\n${output}`)
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.query('SELECT 1')
        return true
      } catch {
        return false
      } finally {
        await client.end().catch(() => {})
      }
    },
    10_000,
    'pgbouncer accepting connections',
  )
  return {
    url,
    log: () => output,
    async stop() {
      if (!exited) child.kill('SIGTERM')
      await exit
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
