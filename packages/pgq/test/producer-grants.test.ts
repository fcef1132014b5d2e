import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgq } from '../src/client/pgq.js'
import { Migrator } from '../src/migrate/migrator.js'
import { databaseUrl, uniqueSchemaName } from './test-database.js'

// The producer grants printed in docs/schema.md are enough for every enqueue path: task defaults,
// every dedup mode, and the follow-up of a running job.
const role = `pgq_producer_${randomBytes(4).toString('hex')}`
const password = randomBytes(12).toString('hex')
const schema = uniqueSchemaName('pr')
let admin: pg.Pool
let producer: pg.Pool

function documentedProducerGrants(): string[] {
  const doc = readFileSync(new URL('../../../docs/schema.md', import.meta.url), 'utf8')
  return doc
    .split('\n')
    .filter((line) => line.startsWith('GRANT') && /\bapp_producer\b/.test(line))
    .map((line) =>
      line
        .split(' -- ')[0]!
        .replace(/;\s*$/, '')
        .replaceAll('pgq.', `"${schema}".`)
        .replace('SCHEMA pgq', `SCHEMA "${schema}"`)
        .replace(/app_producer, app_worker|app_producer/, role),
    )
}

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: databaseUrl(), max: 2 })
  await new Migrator({ pool: admin, schema }).migrate()
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEROLE NOCREATEDB`)
  for (const grant of documentedProducerGrants()) await admin.query(grant)
  await admin.query(
    `INSERT INTO "${schema}".tasks (name, queue, max_attempts) VALUES ('send_email', 'emails', 2)`,
  )
  const url = new URL(databaseUrl())
  url.username = role
  url.password = password
  producer = new pg.Pool({ connectionString: url.toString(), max: 2 })
  producer.on('error', () => {})
})
afterAll(async () => {
  await producer.end()
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.query(`DROP ROLE IF EXISTS ${role}`)
  await admin.end()
})

describe('the documented producer grants', () => {
  it('cover task defaults and every dedup mode, including a replace while the job runs', async () => {
    expect(documentedProducerGrants().length).toBeGreaterThanOrEqual(6)
    const pgq = createPgq({ pool: producer, schema })
    const first = await pgq.enqueue('send_email', { v: 1 }, { dedupKey: 'k' })
    const row = await admin.query(`SELECT queue, max_attempts FROM "${schema}".jobs WHERE id = $1`, [
      first.id,
    ])
    expect(row.rows[0]).toEqual({ queue: 'emails', max_attempts: 2 })
    expect((await pgq.enqueue('send_email', { v: 2 }, { dedupKey: 'k', dedupMode: 'replace' })).outcome).toBe(
      'replaced',
    )
    await admin.query(
      `UPDATE "${schema}".jobs SET state = 'running', locked_by = gen_random_uuid(), lease_token = gen_random_uuid(),
         lease_expires_at = now() + interval '1 minute', attempts = 1 WHERE id = $1`,
      [first.id],
    )
    const debounced = await pgq.enqueue(
      'send_email',
      { v: 3 },
      { dedupKey: 'k', dedupMode: 'debounce', dedupWindowMs: 1_000 },
    )
    expect(debounced.outcome).toBe('queued_after')
    const throttle = { dedupKey: 't', dedupMode: 'throttle', dedupWindowMs: 60_000 } as const
    expect((await pgq.enqueue('send_email', {}, throttle)).outcome).toBe('created')
    expect((await pgq.enqueue('send_email', {}, throttle)).outcome).toBe('throttled')
  })
})
