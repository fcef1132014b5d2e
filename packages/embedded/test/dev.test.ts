// startDev() on the suite's server: the URL and a pool come back, a worker given as a function is
// built with the URL once the database is migrated, and which DATABASE_URL counts as the dev one.
import { defineTask } from '@pgq/core'
import { afterAll, describe, expect, it } from 'vitest'
import { databaseUrl, uniqueSchemaName } from '../../pgq/test/test-database.js'
import { devDatabasePort, startDev } from '../src/dev.js'
import { freePort } from '../src/ports.js'

const schema = uniqueSchemaName('startdev')
afterAll(async () => {
  const dev = await startDev({ databaseUrl: databaseUrl(), schema })
  await dev.pool.query(`DROP SCHEMA "${schema}" CASCADE`)
  await dev.stop()
})

describe('startDev', () => {
  it('returns the URL and a pool on it, and builds the worker with the URL', async () => {
    const echo = defineTask({ name: 'echo', queue: 'dev', handler: async (p: { word: string }) => p })
    const seen: string[] = []
    const dev = await startDev({
      databaseUrl: databaseUrl(),
      schema,
      worker: (url) => {
        seen.push(url)
        return { tasks: [echo] }
      },
    })
    try {
      expect(dev.url).toBe(databaseUrl())
      expect(seen).toEqual([databaseUrl()])
      expect(dev.embedded).toBeUndefined()
      const { rows } = await dev.pool.query(`SELECT count(*)::int AS n FROM "${schema}".jobs`)
      expect(rows[0].n).toBe(0)
      const job = await dev.pgq.enqueue(echo, { word: 'hi' })
      expect(await dev.pgq.jobs.waitFor(job.id, { timeoutMs: 20_000 })).toEqual({ word: 'hi' })
    } finally {
      await dev.stop()
    }
    expect(dev.pool.ended).toBe(true)
  })
})

describe('devDatabasePort', () => {
  it('is the port of the URL pgq dev prints, when nothing else listens there', async () => {
    const port = await freePort()
    expect(await devDatabasePort(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, '.x')).toBe(port)
    expect(await devDatabasePort(`postgresql://postgres:postgres@localhost:${port}/postgres`, '.x')).toBe(
      port,
    )
  })

  it('is undefined for a real server: another host, user, database, or a port another server holds', async () => {
    const port = await freePort()
    expect(await devDatabasePort(`postgres://postgres:postgres@db.internal:${port}/postgres`, '.x')).toBe(
      undefined,
    )
    expect(await devDatabasePort(`postgres://app:postgres@127.0.0.1:${port}/postgres`, '.x')).toBe(undefined)
    expect(await devDatabasePort(`postgres://postgres:postgres@127.0.0.1:${port}/app`, '.x')).toBe(undefined)
    expect(await devDatabasePort('not a url', '.x')).toBe(undefined)
    const suite = new URL(databaseUrl())
    const taken = `postgres://postgres:postgres@127.0.0.1:${suite.port || 5432}/postgres`
    expect(await devDatabasePort(taken, '/nonexistent/data')).toBe(undefined)
  })
})
