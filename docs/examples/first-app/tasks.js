// A tasks module for `pgq work --tasks tasks.js` (see db.js).

// #region tasks
// tasks.js: what runs in the background. Payloads are small JSON: pass ids, not rows.
import { defineTask } from '@pgq/core'
import { pool } from './db.js'

export const sendInvoice = defineTask({
  name: 'send_invoice',
  queue: 'emails',
  maxAttempts: 5,
  async handler({ orderId }, ctx) {
    const { rows } = await pool.query('SELECT amount_cents FROM orders WHERE id = $1', [orderId])
    await ctx.progress(50, { step: 'rendering' })
    // … render the PDF and mail it, passing ctx.signal to anything that can be cancelled …
    return { invoice: `INV-${orderId}`, amountCents: rows[0].amount_cents } // the job's result
  },
})
// #endregion tasks
