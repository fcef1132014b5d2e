// Samples of docs/workers.md, "Transactional completion".
import { createPgq, defineTask, JobTransactionError } from '@pgq/core'

const pgq = createPgq({ connectionString: process.env.DATABASE_URL, poolSize: 20 })
export const sendReceipt = defineTask({
  name: 'send_receipt',
  handler: async (_p: { orderId: number }) => {},
})

// #region transactional-task
export const markPaid = defineTask({
  name: 'mark_paid',
  async handler(payload: { orderId: number; amount: number }, ctx) {
    // the writes below and the job's success commit together, or not at all
    return ctx.transaction(async (tx) => {
      await tx.query('UPDATE orders SET paid_cents = paid_cents + $2 WHERE id = $1', [
        payload.orderId,
        payload.amount,
      ])
      await tx.query('INSERT INTO ledger (order_id, job_id, cents) VALUES ($1, $2, $3)', [
        payload.orderId,
        ctx.jobId,
        payload.amount,
      ])
      // a follow-up job commits with them too
      await pgq.enqueue(sendReceipt, { orderId: payload.orderId }, { db: tx })
      return { credited: payload.amount } // the job's result
    })
  },
})
// #endregion transactional-task

export const logged = defineTask({
  name: 'logged',
  async handler(_payload: object, ctx) {
    // #region lease-lost
    try {
      return await ctx.transaction(async (tx) => {
        await tx.query('INSERT INTO audit (job_id) VALUES ($1)', [ctx.jobId])
        return 'ok'
      })
    } catch (error) {
      if (error instanceof JobTransactionError && error.reason === 'lease-lost') {
        console.warn(`job ${error.jobId}: rolled back, another worker owns it now`)
      }
      throw error
    }
    // #endregion lease-lost
  },
})
