// Samples of docs/enqueue.md, "Schema-validated payloads".
import { createPgq, defineTask, PgqValidationError } from '@pgq/core'
import { z } from 'zod'

const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
declare const payments: { charge(orderId: string, cents: number): Promise<{ id: string }> }

// #region schema-task
export const chargeOrder = defineTask({
  name: 'charge_order',
  schema: z.object({
    orderId: z.string().uuid(),
    cents: z.number().int().positive(),
    currency: z.enum(['EUR', 'USD']).default('EUR'),
  }),
  resultSchema: z.object({ chargeId: z.string() }),
  async handler(payload) {
    // payload: { orderId: string; cents: number; currency: 'EUR' | 'USD' } (the schema's output)
    const charge = await payments.charge(payload.orderId, payload.cents)
    return { chargeId: charge.id } // checked against resultSchema
  },
})

// enqueue takes the schema's input: currency may be left out
const job = await pgq.enqueue(chargeOrder, { orderId: crypto.randomUUID(), cents: 1250 })
const result = await pgq.jobs.waitFor<{ chargeId: string }>(job.id)

try {
  await pgq.enqueue(chargeOrder, { orderId: 'not-a-uuid', cents: -1 }) // rejected before any SQL
} catch (error) {
  if (error instanceof PgqValidationError) console.error(error.rule) // "rejected by the task's schema: orderId: …"
}
// #endregion schema-task
console.log(result)
