// Samples of docs/workflows.md, "Durable steps".
import { defineTask } from '@pgq/core'

declare const payments: { charge(orderId: string): Promise<{ id: string; amount: number }> }
declare const warehouse: { reserve(orderId: string): Promise<{ parcel: string }> }
declare const mailer: {
  receipt(email: string, chargeId: string): Promise<void>
  askForReview(email: string): Promise<void>
}

// #region durable-steps
export const fulfilOrder = defineTask({
  name: 'fulfil_order',
  async handler(payload: { orderId: string; email: string }, ctx) {
    // each step runs once per job: a retry or a rescued run gets the stored result back
    const charge = await ctx.step('charge', () => payments.charge(payload.orderId))
    const { parcel } = await ctx.step('reserve', () => warehouse.reserve(payload.orderId))
    await ctx.step('receipt', () => mailer.receipt(payload.email, charge.id))
    // ends this attempt: the slot is free for 3 days, then the job resumes here
    await ctx.sleep('3d')
    await ctx.step('review', () => mailer.askForReview(payload.email))
    return { charge: charge.id, parcel }
  },
})
// #endregion durable-steps
