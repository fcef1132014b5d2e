// Samples of docs/flow-control.md.
import { createPgq, defineTask, PgqValidationError } from '@pgq/core'

const pgq = createPgq({ connectionString: process.env.DATABASE_URL })

// #region pause-resume
await pgq.queues.pause('video') // running jobs finish; no worker starts a new one
// … deploy the new encoder …
await pgq.queues.resume('video') // every worker of the queue claims again at once
// #endregion pause-resume

// #region concurrency
// at most 5 jobs of `video` running at once, whatever the number of workers and their concurrency
await pgq.queues.set('video', { concurrency: 5 })
const video = await pgq.queues.get('video')
console.log(video) // { queue: 'video', paused: false, concurrency: 5, running: 5, waiting: 120 }
await pgq.queues.set('video', { concurrency: null }) // no global limit again
// #endregion concurrency

// #region rate
// at most 10 jobs of `crm` start per second across all workers (a bucket of 10: a burst of 10
// after a quiet spell, then one every 100 ms)
await pgq.queues.set('crm', { rate: '10/s' })
await pgq.queues.set('reports', { rate: '100/h', concurrency: 2 }) // both apply
await pgq.queues.set('crm', { rate: null }) // no rate limit again
// #endregion rate

// #region validation
try {
  await pgq.queues.set('video', { concurrency: 0 })
} catch (error) {
  if (!(error instanceof PgqValidationError)) throw error
  console.error(error.message) // limits.concurrency: must be an integer from 1 to 1000000 (null removes the limit)
}
// #endregion validation

// #region keys
// at most one sync per customer at a time, across all workers; customers take turns
await pgq.queues.set('crm-sync', { keyConcurrency: 1 })

export const syncCustomer = defineTask({
  name: 'sync_customer',
  queue: 'crm-sync',
  concurrencyKey: 'customerId', // each job's key: its payload's customerId (SQL enqueue applies it too)
  async handler(payload: { customerId: string }) {
    return { synced: payload.customerId }
  },
})

await pgq.enqueue(syncCustomer, { customerId: 'c-42' }) // key 'c-42'
await pgq.enqueue(syncCustomer, { customerId: 'c-42' }, { concurrencyKey: 'vip' }) // an explicit key wins
// #endregion keys

// #region ordered
// per account, one ledger job at a time, in the order they were enqueued
await pgq.queues.set('ledger', { keyConcurrency: 1, ordered: true })
await pgq.enqueue('post_entry', { account: 'A-1', cents: 500 }, { queue: 'ledger', concurrencyKey: 'A-1' })
await pgq.enqueue('post_entry', { account: 'A-1', cents: -200 }, { queue: 'ledger', concurrencyKey: 'A-1' })
// #endregion ordered

// #region key-rate
// each customer's webhooks: at most 5 per second per customer (a burst of 5), any number of customers
await pgq.queues.set('webhooks', { keyRate: '5/s' })
// #endregion key-rate

// #region expiry
// a price alert is worthless after a minute: if no worker started it by then, it ends `expired`
await pgq.enqueue('price_alert', { symbol: 'ACME' }, { expireInMs: 60_000 })
// or by a fixed instant (Celery's `expires=`)
await pgq.enqueue('daily_digest', {}, { expiresAt: new Date('2026-12-03T09:00:00Z') })
// #endregion expiry

// #region singleton
// at most one reindex waiting or running; a second enqueue returns the live job
const first = await pgq.enqueue('reindex', {}, { singleton: true })
const again = await pgq.enqueue('reindex', {}, { singleton: true })
console.log(again.outcome, again.id === first.id) // 'deduplicated' true
// one per tenant: a singleton key
await pgq.enqueue('reindex', { tenant: 't1' }, { singleton: 't1' })
// #endregion singleton
