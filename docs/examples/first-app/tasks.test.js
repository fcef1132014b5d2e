// The first app's task under jest with @pgq/core/testing (docs/testing.md, "With jest"):
// packages/cli/test/first-app.test.ts installs jest in the fresh app and runs this file.

// #region jest
// tasks.test.js: run with NODE_OPTIONS=--experimental-vm-modules npx jest
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { createTestSchema } from '@pgq/core/testing'
import { pool } from './db.js'
import { sendInvoice } from './tasks.js'

let queue
beforeAll(async () => {
  await pool.query('CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, amount_cents int NOT NULL)')
  // a new schema pgq_test_<random> in the DATABASE_URL database, migrated, on the app's pool
  queue = await createTestSchema({ pool, tasks: [sendInvoice] })
})
afterAll(async () => {
  await queue.drop()
  await pool.end() // jest waits for open handles
})

async function order(amountCents) {
  const { rows } = await pool.query('INSERT INTO orders (amount_cents) VALUES ($1) RETURNING id', [
    amountCents,
  ])
  return rows[0].id
}

test('runJob: the invoice of one order', async () => {
  const orderId = await order(990)
  const run = await queue.runJob(sendInvoice, { orderId })
  expect(run.state).toBe('succeeded')
  expect(run.result).toEqual({ invoice: `INV-${orderId}`, amountCents: 990 })
})

test('drain: every due invoice, as a worker would run them', async () => {
  const orderId = await order(1500)
  await queue.pgq.enqueue(sendInvoice, { orderId })
  await queue.expectEnqueued(sendInvoice, { orderId })
  const runs = await queue.drain({ queues: ['emails'] })
  expect(runs.map((run) => [run.state, run.result])).toEqual([
    ['succeeded', { invoice: `INV-${orderId}`, amountCents: 1500 }],
  ])
})
// #endregion jest
