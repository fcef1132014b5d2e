// The web app of the first steps (see db.js).

// #region server
// server.js: POST /orders writes the order and enqueues its invoice in one transaction;
// GET /jobs/:id reads the job's state and result.
import { createServer } from 'node:http'
import { createPgq } from '@pgq/core'
import { pool } from './db.js'
import { sendInvoice } from './tasks.js'

const pgq = createPgq({ pool })
// your own migrations would create this table
await pool.query('CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, amount_cents int NOT NULL)')

async function createOrder(amountCents) {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query('INSERT INTO orders (amount_cents) VALUES ($1) RETURNING id', [
      amountCents,
    ])
    const job = await pgq.enqueue(sendInvoice, { orderId: rows[0].id }, { db: client })
    await client.query('COMMIT') // the order and its job exist together, or neither does
    return { orderId: rows[0].id, jobId: job.id }
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  } finally {
    client.release()
  }
}

const server = createServer(async (req, res) => {
  const send = (status, body) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  const url = new URL(req.url, 'http://localhost')
  const jobId = /^\/jobs\/(\d+)$/.exec(url.pathname)?.[1]
  try {
    if (req.method === 'POST' && url.pathname === '/orders') {
      send(202, await createOrder(Number(url.searchParams.get('amount_cents')))) // answer at once
    } else if (req.method === 'GET' && jobId) {
      const job = await pgq.jobs.get(jobId)
      send(job ? 200 : 404, job ? { state: job.state, result: job.result } : { error: 'no such job' })
    } else {
      send(404, { error: 'not found' })
    }
  } catch (error) {
    send(500, { error: error.message })
  }
})

server.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${server.address().port}`)
})
process.once('SIGTERM', () => {
  server.close()
  void pgq.close().then(() => pool.end())
})
// #endregion server
