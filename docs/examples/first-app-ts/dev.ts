// `pgq dev` as a library call, as docs/getting-started.md shows it (see db.ts).

// #region dev
// dev.ts: the library form of `pgq dev`: embedded PostgreSQL in .pgq/data, migrated, with a worker
// and the scheduler for your tasks
import { startDev } from '@pgq/embedded'
import { sendInvoice } from './tasks.js'

const dev = await startDev({ worker: { tasks: [sendInvoice] } })
console.log(`DATABASE_URL=${dev.url}`) // what your app and psql connect to
await dev.pgq.enqueue(sendInvoice, { orderId: '1' })
// … later
await dev.stop()
// #endregion dev
