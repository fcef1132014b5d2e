// Samples of docs/concepts.md.
import { createPgq, defineTask, PermanentError, snooze } from '@pgq/core'
import { callCrm, pool, redis } from './stubs.js'

const pgq = createPgq({ pool })

export async function dualWrite(email: string): Promise<void> {
  // #region dual-write
  // ✗ Two systems, two writes: nothing makes them happen together.
  await pool.query('INSERT INTO users (email) VALUES ($1)', [email]) // committed…
  await redis.lpush('emails', JSON.stringify({ to: email })) // …and if this fails, or the process dies
  //                                                           here, the user never gets the e-mail.
  // #endregion dual-write
}

export async function oneTransaction(email: string): Promise<void> {
  // #region one-transaction
  // ✓ One database, one transaction: the user and the job commit together or not at all.
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('INSERT INTO users (email) VALUES ($1)', [email])
    await pgq.enqueue('send_welcome_email', { to: email }, { db: client })
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK') // the job disappears with the user row
    throw error
  } finally {
    client.release()
  }
  // #endregion one-transaction
}

// #region outcomes
export const syncCrm = defineTask({
  name: 'sync_crm',
  maxAttempts: 5,
  retry: { baseDelayMs: 2_000, maxDelayMs: 10 * 60_000 }, // 2 s, 4 s, 8 s, … ±20 % jitter
  async handler({ userId }: { userId: number }, ctx) {
    const response = await callCrm(userId, { signal: ctx.signal })
    if (response.status === 429) return snooze(30_000) // not a failure: run again in 30 s, no attempt spent
    if (response.status >= 500) throw new Error(`CRM answered ${response.status}`) // retried with backoff
    if (!response.ok) throw new PermanentError(`CRM refused user ${userId}`) // failed now, no retry
    return { synced: true } // succeeded: stored as the result
  },
})
// #endregion outcomes

// #region idempotent
// The seeds' add_credits, made safe to run twice: the credit is keyed by the business
// transaction id, and the ledger row and the balance change commit together.
export const addCredits = defineTask({
  name: 'add_credits',
  async handler(payload: { userId: number; transactionId: string; amount: number }) {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const { rowCount } = await client.query(
        'INSERT INTO credit_ledger (transaction_id, user_id, amount) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [payload.transactionId, payload.userId, payload.amount],
      )
      if (rowCount === 1) {
        await client.query('UPDATE users SET credits = credits + $2 WHERE id = $1', [
          payload.userId,
          payload.amount,
        ])
      }
      await client.query('COMMIT')
      return { applied: rowCount === 1 } // false on a re-run: already applied
    } catch (error) {
      await client.query('ROLLBACK')
      throw error
    } finally {
      client.release()
    }
  },
})
// #endregion idempotent

export async function enqueueCredits(userId: number, transactionId: string): Promise<void> {
  // #region dedup
  // While a job with this key waits or runs, enqueueing again returns it instead of a second one.
  const job = await pgq.enqueue(
    addCredits,
    { userId, transactionId, amount: 100 },
    { dedupKey: `credits:${transactionId}` },
  )
  console.log(job.id, job.deduplicated)
  // #endregion dedup
}
