// `pgq dev` as a library call, as docs/getting-started.md shows it (see db.ts).

// #region dev
// dev.ts: the library form of `pgq dev`: embedded PostgreSQL in .pgq/data, migrated, with a worker
// and the scheduler for your tasks
import { startDev } from '@pgq/embedded'

const dev = await startDev({
  worker: async (url) => {
    process.env.DATABASE_URL = url // before the tasks module (and its pool) is imported
    const { sendInvoice } = await import('./tasks.js')
    return { tasks: [sendInvoice] }
  },
})
console.log(`DATABASE_URL=${dev.url}`) // what your app and psql connect to
await dev.pool.query(
  'CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, amount_cents int NOT NULL)',
)
await dev.pgq.enqueue('send_invoice', { orderId: '1' })
// … later
await dev.stop()
// #endregion dev
