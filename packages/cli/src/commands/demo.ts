import type { Command } from 'commander'
import { createPgq, defineTask, startEmbeddedPostgres } from 'pgq'

const sendEmail = defineTask({
  name: 'send_email',
  queue: 'emails',
  handler: async (payload: { to: string }) => ({ sent: payload.to }),
})

/** `pgq demo`: a scripted tour on an embedded PostgreSQL kept in ./.pgq/data. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a scripted tour of pgq on an embedded PostgreSQL (data kept in ./.pgq/data)')
    .option('--data-dir <dir>', 'where the embedded PostgreSQL keeps its data', '.pgq/data')
    .action(async (options: { dataDir: string }) => {
      const log = (line: string) => process.stdout.write(`${line}\n`)
      log(`starting an embedded PostgreSQL in ${options.dataDir} …`)
      const db = await startEmbeddedPostgres({ dataDir: options.dataDir })
      const pgq = createPgq({ connectionString: db.url })
      try {
        const migrated = await pgq.migrate()
        log(`migrated schema "pgq" (version ${migrated.version}, applied now: ${migrated.applied.length})`)
        const before = await pgq.pool.query('SELECT count(*)::int AS n FROM pgq.jobs')
        log(`jobs already in the database from earlier runs: ${before.rows[0].n}`)

        const client = await pgq.pool.connect()
        try {
          await client.query('BEGIN')
          const rolledBack = await pgq.enqueue(sendEmail, { to: 'rollback@example.com' }, { db: client })
          await client.query('ROLLBACK')
          log(`enqueued job ${rolledBack.id} inside a transaction, then ROLLBACK: it never existed`)
          await client.query('BEGIN')
          const committed = await pgq.enqueue(sendEmail, { to: 'welcome@example.com' }, { db: client })
          await client.query('COMMIT')
          log(`enqueued job ${committed.id} inside a transaction, then COMMIT: it is queued`)
        } finally {
          client.release()
        }
        const fromSql = await pgq.pool.query(
          `SELECT pgq.enqueue('send_email', '{"to":"sql@example.com"}', queue => 'emails') AS id`,
        )
        log(`SELECT pgq.enqueue('send_email', …) returned job ${fromSql.rows[0].id}`)
        const rows = await pgq.pool.query(
          'SELECT id, task, queue, state, payload::text FROM pgq.jobs ORDER BY id DESC LIMIT 5',
        )
        log('\nthe newest jobs (SELECT id, task, queue, state, payload FROM pgq.jobs):')
        for (const r of rows.rows)
          log(`  ${String(r.id).padStart(5)}  ${r.task}  ${r.queue}  ${r.state}  ${r.payload}`)
        log(`\nconnect while it runs: psql ${db.url}`)
      } finally {
        await pgq.close()
        await db.stop()
      }
    })
}
