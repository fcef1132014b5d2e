// The small files around an embedded cluster: PostgreSQL's postmaster.pid and postmaster.opts, the
// owner file naming the process that started the server, and the start lock beside the data folder.
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PgqError } from '@pgq/core'

/** What PostgreSQL's `postmaster.pid` says about the server holding a data folder. */
export interface PostmasterInfo {
  readonly pid: number
  readonly port: number
  /** `starting`, `ready`, `stopping` or `standby` (the file's last line; empty while writing). */
  readonly status: string
}

/** @internal Parses `<dataDir>/postmaster.pid`; `undefined` when there is none or it is unreadable. */
export function readPostmasterPid(dataDir: string): PostmasterInfo | undefined {
  let text: string
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8')
  } catch {
    return undefined
  }
  const lines = text.split('\n')
  const pid = Number(lines[0])
  const port = Number(lines[3])
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  return { pid, port: Number.isInteger(port) ? port : 0, status: (lines[7] ?? '').trim() }
}

/** @internal The port of the server's last start, from `postmaster.opts` (`"-p" "5433"`). */
export function previousPort(dataDir: string): number | undefined {
  try {
    const opts = readFileSync(join(dataDir, 'postmaster.opts'), 'utf8')
    const match = /"-p"\s+"(\d+)"/.exec(opts)
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

/**
 * @internal Whether a process with this pid runs (EPERM: it exists but belongs to another user).
 * A zombie (exited, not yet reaped: common under a container's PID 1) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/**
 * @internal Whether `pid` still looks like a PostgreSQL server. After a crash or a container
 * restart the pid in a stale `postmaster.pid` may belong to an unrelated process; on Linux its
 * command line tells. Elsewhere a live pid is taken at its word (the caller then checks the port).
 */
export function looksLikePostgres(pid: number): boolean {
  if (!isAlive(pid)) return false
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')
  } catch {
    return true
  }
}

/** @internal Deletes a `postmaster.pid` left by a server that is gone. */
export function removeStalePid(dataDir: string): void {
  rmSync(join(dataDir, 'postmaster.pid'), { force: true })
}

const OWNER_FILE = 'pgq-owner.pid'

/** @internal Records which process started the server, so a later run can adopt an orphan. */
export function writeOwner(dataDir: string, pid = process.pid): void {
  writeFileSync(join(dataDir, OWNER_FILE), `${pid}\n`)
}

/** @internal The pid of the process that started the running server, if recorded. */
export function readOwner(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, OWNER_FILE), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * @internal Takes `<dataDir>.lock` (exclusive create), so two processes starting on one folder do
 * not both run initdb or both start a server: the second waits, then finds the first one's server.
 * A lock whose process is gone is taken over. Returns the release function.
 */
export async function acquireStartLock(dataDir: string, timeoutMs: number): Promise<() => void> {
  const path = `${dataDir}.lock`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const fd = openSync(path, 'wx')
      writeFileSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => rmSync(path, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = lockHolder(path)
    // An empty lock is one being written right now, unless it is old (its writer died mid-write).
    if (holder === undefined ? ageMs(path) > 5_000 : !isAlive(holder)) {
      rmSync(path, { force: true })
      continue
    }
    if (Date.now() > deadline) {
      throw new PgqError(
        'PGQ_EMBEDDED_LOCKED',
        `another process (pid ${holder}) has been starting PostgreSQL in ${dataDir} for too long`,
        { dataDir, pid: holder },
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

function lockHolder(path: string): number | undefined {
  if (!existsSync(path)) return undefined
  try {
    const pid = Number(readFileSync(path, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
