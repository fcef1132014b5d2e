// The embedded PostgreSQL of `pgq dev` and `pgq demo`: persistence, a second start on the same
// folder, recovery after a crash (orphaned server, stale postmaster.pid) and running as root.
import { spawn } from 'node:child_process'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PgqError } from '@pgq/core'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/embedded.js'
import { isAlive, readPostmasterPid } from '../src/embedded-files.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'start-embedded.mjs')
const root = mkdtempSync(join(tmpdir(), 'pgq-embedded-'))
// As root, PostgreSQL runs as the `postgres` user, which must be able to enter the temp folder.
chmodSync(root, 0o755)
const started: EmbeddedPostgres[] = []

afterAll(async () => {
  await Promise.all(started.map((db) => db.stop()))
  rmSync(root, { recursive: true, force: true })
})

async function start(dataDir: string): Promise<EmbeddedPostgres> {
  const db = await startEmbeddedPostgres({ dataDir, postgresFlags: ['-c', 'fsync=off'] })
  started.push(db)
  return db
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

/** Starts a server in a child process, which is then SIGKILLed: the server outlives it. */
async function startInProcessThenCrash(dataDir: string): Promise<{ url: string; pid: number }> {
  const child = spawn(process.execPath, [FIXTURE, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('\n')) resolve(out)
    })
    child.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)))
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  return { url: JSON.parse(line).url, pid: readPostmasterPid(dataDir)!.pid }
}

describe('startEmbeddedPostgres', () => {
  it('creates a cluster once and keeps its data across restarts, on the same port', async () => {
    const dataDir = join(root, 'persist', 'data')
    const first = await start(dataDir)
    expect(first).toMatchObject({ created: true, shared: false, dataDir })
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)')
    await first.stop()
    expect(readPostmasterPid(dataDir)).toBeUndefined()

    const second = await start(dataDir)
    expect(second).toMatchObject({ created: false, shared: false, port: first.port })
    expect(await query(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }])
    if (process.getuid?.() === 0) expect(statSync(dataDir).uid).not.toBe(0)
    await second.stop()
  })

  it('lets a second start on the same folder join the running server, even a concurrent one', async () => {
    const dataDir = join(root, 'twice', 'data')
    const [a, b] = await Promise.all([start(dataDir), start(dataDir)])
    expect([a!.shared, b!.shared].sort()).toEqual([false, true])
    expect(a!.port).toBe(b!.port)
    const owner = a!.shared ? b! : a!
    const joined = a!.shared ? a! : b!
    await joined.stop() // leaves the owner's server running
    expect(await query(owner.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }])
    const pid = readPostmasterPid(dataDir)!.pid
    await owner.stop()
    expect(isAlive(pid)).toBe(false)
  })

  it('adopts the server of a process that crashed, and stops it', async () => {
    const dataDir = join(root, 'crash', 'data')
    const crashed = await startInProcessThenCrash(dataDir)
    await query(crashed.url, 'CREATE TABLE survived (n int)')
    expect(isAlive(crashed.pid)).toBe(true) // the orphaned server still runs

    const db = await start(dataDir)
    expect(db.shared).toBe(false)
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM survived')).toEqual([{ n: 0 }])
    await db.stop()
    expect(isAlive(crashed.pid)).toBe(false)
  })

  it('removes a stale postmaster.pid, also one whose pid now belongs to another program', async () => {
    const dataDir = join(root, 'stale', 'data')
    await (await start(dataDir)).stop()
    const pidFile = join(dataDir, 'postmaster.pid')
    for (const pid of [process.pid, 2 ** 22 - 7]) {
      // a live non-PostgreSQL process (this test), then a pid that does not exist
      writeFileSync(pidFile, `${pid}\n${dataDir}\n1700000000\n5432\n\n127.0.0.1\n0 0\nready\n`)
      const db = await start(dataDir)
      expect(await query(db.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }])
      await db.stop()
    }
  })

  it.runIf(process.getuid?.() === 0)(
    'as root, keeps a cluster the postgres user could not reach in /var/lib/pgq-embedded, behind a symlink',
    async () => {
      const closed = join(root, 'closed') // like a clone under /root (mode 700)
      mkdirSync(closed, { mode: 0o700 })
      chmodSync(closed, 0o700)
      const link = join(closed, 'data')
      const first = await start(link)
      try {
        expect(lstatSync(link).isSymbolicLink()).toBe(true)
        expect(first.dataDir).toBe(realpathSync(link))
        expect(first.dataDir.startsWith('/var/lib/pgq-embedded/')).toBe(true)
        await query(first.url, 'CREATE TABLE kept (n int)')
        await first.stop()
        const second = await start(link) // found again through the symlink
        expect(second).toMatchObject({ created: false, dataDir: first.dataDir })
        expect(await query(second.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }])
        await second.stop()
      } finally {
        rmSync(dirname(first.dataDir), { recursive: true, force: true })
      }
    },
  )

  it.runIf(process.getuid?.() === 0)(
    'as root, says which existing folder the postgres user cannot enter',
    async () => {
      const closed = join(root, 'closed-existing')
      mkdirSync(join(closed, 'data'), { recursive: true, mode: 0o700 })
      chmodSync(closed, 0o700)
      const error = await startEmbeddedPostgres({ dataDir: join(closed, 'data') }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PgqError)
      expect(error).toMatchObject({ code: 'PGQ_EMBEDDED_PERMISSIONS', context: { dir: closed } })
    },
  )
})
