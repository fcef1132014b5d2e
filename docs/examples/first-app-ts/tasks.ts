// The TypeScript tasks module of docs/getting-started.md (see db.ts).

// #region tasks
// src/tasks.ts: the same task, typed; `pgq work --tasks src/tasks.ts` loads it as it is.
import { defineSchedule, defineTask } from '@pgq/core'
import { pool } from './db.js'

export const sendInvoice = defineTask({
  name: 'send_invoice',
  queue: 'emails',
  maxAttempts: 5,
  async handler({ orderId }: { orderId: string }, ctx) {
    const { rows } = await pool.query<{ amount_cents: number }>(
      'SELECT amount_cents FROM orders WHERE id = $1',
      [orderId],
    )
    await ctx.progress(50, { step: 'rendering' })
    return { invoice: `INV-${orderId}`, amountCents: rows[0]!.amount_cents }
  },
})
// #endregion tasks

// #region schedule
// also in src/tasks.ts: `pgq work` fires the schedules the module exports, once per tick however
// many workers run
export const countOrders = defineTask({
  name: 'count_orders',
  async handler() {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM orders')
    return { orders: Number(rows[0]!.n) }
  },
})

export const nightlyCount = defineSchedule({
  name: 'nightly-count',
  cron: '0 3 * * *',
  timezone: 'Europe/Paris',
  task: countOrders,
})
// #endregion schedule
