// Samples of the reference pages docs/enqueue.md and docs/workers.md (regions are copied into the
// pages by scripts/sync-doc-snippets.mjs and typechecked here by `tsc -b`).
import { type KyselyLike, PgqValidationError } from '@pgq/core'
import { encodeVideo, pool } from './stubs.js'

/** The shape of a Kysely instance these samples use (a real `Kysely<DB>` fits it). */
interface Transaction extends KyselyLike {
  insertInto(table: 'users'): { values(row: { id: number; email: string }): { execute(): Promise<unknown> } }
}
declare const db: { transaction(): { execute<T>(fn: (trx: Transaction) => Promise<T>): Promise<T> } }
const id = 42
const user = { id: 7, email: 'a@example.com' }
const users = [user]

// #region define-and-enqueue
import { createPgq, defineTask } from '@pgq/core'

export const processVideo = defineTask({
  name: 'process_video',
  queue: 'heavy_compute',
  maxAttempts: 3,
  async handler(payload: { videoId: number }, ctx) {
    await encodeVideo(`/videos/${payload.videoId}.mp4`, { signal: ctx.signal })
  },
})

const pgq = createPgq({ connectionString: process.env.DATABASE_URL }) // or { pool }
const job = await pgq.enqueue(processVideo, { videoId: 42 }) // { id: '17', deduplicated: false, outcome: 'created' }
// #endregion define-and-enqueue

export const welcomeEmail = defineTask({
  name: 'welcome_email',
  handler: async (_p: { userId: number }) => null,
})
export const sendEmail = defineTask({ name: 'send_email', handler: async (_p: { to: string }) => null })
export const syncCrm = defineTask({ name: 'sync_crm', handler: async (_p: { userId: number }) => null })

// #region in-transaction
// node-postgres
const client = await pool.connect()
await client.query('BEGIN')
await client.query('UPDATE videos SET status = $1 WHERE id = $2', ['queued', id])
await pgq.enqueue(processVideo, { videoId: id }, { db: client })
await client.query('COMMIT') // the job exists from here on; workers are woken now
client.release()

// Kysely
await db.transaction().execute(async (trx) => {
  await trx.insertInto('users').values(user).execute()
  await pgq.enqueue(welcomeEmail, { userId: user.id }, { db: trx })
})
// #endregion in-transaction

await db.transaction().execute(async (trx) => {
  // #region bulk
  const jobs = await pgq.enqueueMany(
    users.map((u) => ({ task: sendEmail, payload: { to: u.email }, options: { priority: 1 } })),
    { db: trx },
  )
  // #endregion bulk
  return jobs
})

// #region job-spec
import { jobSpec } from '@pgq/core'

await pgq.enqueueMany([
  jobSpec(sendEmail, { to: 'a@example.com' }),
  jobSpec(syncCrm, { userId: 7 }, { priority: 5 }),
])
// #endregion job-spec

// #region parse-payload
export const sendInvoice = defineTask({
  name: 'send_invoice',
  queue: 'billing',
  // or a Standard Schema (zod, valibot, arktype): parsePayload: InvoiceSchema
  parsePayload(payload: unknown): { invoiceId: number } {
    const invoiceId = (payload as { invoiceId?: unknown } | null)?.invoiceId
    if (!Number.isInteger(invoiceId)) throw new Error('invoiceId must be an integer')
    return { invoiceId: invoiceId as number }
  },
  async handler(payload) {
    return { sent: payload.invoiceId }
  },
})

try {
  await pgq.enqueue(sendInvoice, { invoiceId: 1.5 }) // throws before any SQL: no job exists
} catch (error) {
  if (error instanceof PgqValidationError) console.error(error.path, error.rule)
}
// #endregion parse-payload

// #region dedup-modes
// re-index a document 30 s after its last edit, with the last revision
await pgq.enqueue(
  'reindex_doc',
  { docId: 7, revision: 12 },
  { dedupKey: 'doc:7', dedupMode: 'debounce', dedupWindowMs: 30_000 },
)

// a digest at most once an hour per user
const digest = await pgq.enqueue(
  'send_digest',
  { userId: 7 },
  { dedupKey: 'user:7', dedupMode: 'throttle', dedupWindowMs: 3_600_000 },
)
if (digest.outcome === 'throttled') console.log(`digest job ${digest.id} opened this hour's window`)

// a sync with the newest data: if one is running, this one runs right after it
const sync = await pgq.enqueue(syncCrm, { userId: 7 }, { dedupKey: 'crm:7', dedupMode: 'replace' })
console.log(sync.outcome) // 'created' | 'replaced' (it was waiting) | 'queued_after' (it was running)
// #endregion dedup-modes

// #region create-worker
const worker = pgq.createWorker({
  tasks: [sendEmail, processVideo],
  queues: { emails: 20, heavy_compute: 2 }, // queue → jobs at once; or ['emails'] + concurrency
})
const { closed } = await worker.start()
process.on('SIGTERM', () => worker.stop())
await closed // settles once the worker has stopped; database outages do not stop it
// #endregion create-worker
{
  // #region synchronous-commit
  const durable = pgq.createWorker({ tasks: [sendEmail], synchronousCommit: true })
  // #endregion synchronous-commit
  void durable
}
console.log(job.id)
