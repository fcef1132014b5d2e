// A database behind a network black hole: connections stay open but nothing comes back (a dropped
// route, a frozen VM, a firewall that discards packets). Queries then never fail, they hang; the
// worker's graceful stop must still end in bounded time.
import net from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { createPgq } from '../src/client/pgq.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

/** A TCP proxy to the test database whose `freeze()` stops every byte, both ways, for good. */
async function blackHoleProxy(target: URL) {
  const port = await freePort()
  const sockets = new Set<net.Socket>()
  let frozen = false
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
    }
    // forward only while not frozen; when frozen, read and discard (so the sender never notices)
    client.on('data', (chunk) => void (frozen || upstream.write(chunk)))
    upstream.on('data', (chunk) => void (frozen || client.write(chunk)))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const url = new URL(target)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return {
    url: url.toString(),
    freeze() {
      frozen = true
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

it('stop() ends within its bounds when the database stops answering mid-job', async () => {
  const proxy = await blackHoleProxy(new URL(t.url))
  const pgq = createPgq({ connectionString: proxy.url, schema: t.schema, poolSize: 4 })
  let started = false
  const task = defineTask({
    name: 'held_in_black_hole',
    handler: async (_payload: unknown, ctx) => {
      started = true
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    },
  })
  const worker = pgq.createWorker({ tasks: [task], heartbeatMs: 200, leaseMs: 60_000 })
  try {
    await worker.start()
    await t.pgq.enqueue('held_in_black_hole', {})
    await waitFor(() => started, 10_000, 'the job running')
    proxy.freeze()
    // let the heartbeat's next statement enter the black hole too
    await new Promise((resolve) => setTimeout(resolve, 400))
    const stopAt = performance.now()
    await worker.stop({ graceMs: 200 })
    const tookMs = performance.now() - stopAt
    // two phases of at most 5 s each, plus the grace; without the bounds it never ends
    expect(tookMs).toBeLessThan(13_000)
    // the job was not released (the release never arrived): its lease will expire and be rescued
    const { rows } = await t.pool.query(`SELECT state FROM "${t.schema}".jobs`)
    expect(rows).toEqual([{ state: 'running' }])
  } finally {
    await proxy.close() // the hung queries fail now, and the pool can end
    await pgq.close()
  }
}, 30_000)
