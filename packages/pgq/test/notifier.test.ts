// The Notifier against a real PostgreSQL: one connection for every subscription, reconnection
// after pg_terminate_backend and after an outage with bounded logs, catch-up hooks.
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { createLineLogger } from '../src/logger.js'
import { Notifier } from '../src/notify/notifier.js'
import { notify } from '../src/sql/notify-queries.js'
import { defineTask } from '../src/task/task.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

/** Backends LISTENing (last statement) on a channel that starts with `prefix`. */
async function listenBackends(prefix: string): Promise<number[]> {
  const { rows } = await t.pool.query(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'pgq_listener' AND query LIKE $1`,
    [`LISTEN "${prefix}%`],
  )
  return rows.map((r) => r.pid)
}

function capture() {
  const lines: string[] = []
  return { lines, logger: createLineLogger('debug', (line) => lines.push(line)) }
}

describe('Notifier', () => {
  it('subscribe and unsubscribe: every handler of a channel gets its payloads; the last unsubscribe closes the connection', async () => {
    const notifier = new Notifier({ connectionString: t.url })
    const a: string[] = []
    const b: string[] = []
    const other: string[] = []
    const channel = `${t.schema}:one`
    const offA = await notifier.subscribe(channel, (p) => a.push(p))
    const offB = await notifier.subscribe(channel, (p) => b.push(p))
    const offOther = await notifier.subscribe(`${t.schema}:two`, (p) => other.push(p))
    expect(notifier.connects).toBe(1)
    expect(await listenBackends(t.schema)).toHaveLength(1)
    await notify(t.pool, channel, 'x')
    await waitFor(() => a.length === 1 && b.length === 1, 5_000, 'both handlers')
    expect(other).toEqual([])
    await offA()
    await offA() // idempotent
    await notify(t.pool, channel, 'y')
    await waitFor(() => b.length === 2, 5_000, 'second payload')
    expect(a).toEqual(['x'])
    await offB()
    await offOther()
    expect(notifier.connected).toBe(false)
    await waitFor(async () => (await listenBackends(t.schema)).length === 0, 5_000, 'connection closed')
    await notifier.close()
    await expect(notifier.subscribe(channel, () => {})).rejects.toMatchObject({ code: 'PGQ_CLOSED' })
  })

  it('after pg_terminate_backend: reconnects, LISTENs again, runs the catch-up hooks, logs one line each way', async () => {
    const notifier = new Notifier({ connectionString: t.url, minBackoffMs: 10, maxBackoffMs: 100 })
    const { lines, logger } = capture()
    notifier.attachLogger(logger)
    const channel = `${t.schema}:kill`
    const got: string[] = []
    let reconnects = 0
    let disconnects = 0
    notifier.onReconnect(() => {
      reconnects += 1
    })
    notifier.onDisconnect(() => {
      disconnects += 1
    })
    await notifier.subscribe(channel, (p) => got.push(p))
    try {
      const [pid] = await listenBackends(channel)
      await t.pool.query('SELECT pg_terminate_backend($1)', [pid])
      await waitFor(() => reconnects === 1, 5_000, 'catch-up hook')
      expect(disconnects).toBe(1)
      expect(notifier.connects).toBe(2)
      await notify(t.pool, channel, 'after')
      await waitFor(() => got.includes('after'), 5_000, 'payload after reconnect')
      expect(lines).toHaveLength(2)
      expect(lines[0]).toContain('notifier: LISTEN connection error; retrying with backoff')
      expect(lines[1]).toContain('database reachable again')
    } finally {
      await notifier.close()
    }
  })

  it('an outage of many failed tries logs one line when it starts and one when it ends', async () => {
    // A TCP proxy on a port of our own: closed = PostgreSQL unreachable; open = reachable again.
    const port = await freePort()
    const target = new URL(t.url)
    const sockets = new Set<net.Socket>()
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(target.port), target.hostname)
      for (const s of [client, server]) {
        sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => sockets.delete(s))
      }
      client.pipe(server).pipe(client)
    })
    const url = new URL(t.url)
    url.port = String(port)
    const notifier = new Notifier({ connectionString: url.toString(), minBackoffMs: 5, maxBackoffMs: 20 })
    const { lines, logger } = capture()
    notifier.attachLogger(logger)
    let reconnects = 0
    notifier.onReconnect(() => {
      reconnects += 1
    })
    const got: string[] = []
    const channel = `${t.schema}:outage`
    try {
      await notifier.subscribe(channel, (p) => got.push(p)) // nothing listens on the port yet
      expect(notifier.connected).toBe(false)
      await new Promise((resolve) => setTimeout(resolve, 500)) // let dozens of tries fail
      await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve))
      await waitFor(() => reconnects === 1, 5_000, 'reconnected through the proxy')
      await notify(t.pool, channel, 'back')
      await waitFor(() => got.includes('back'), 5_000, 'payload after the outage')
      expect(lines).toHaveLength(2)
      expect(lines[0]).toContain('notifier: LISTEN connection error; retrying with backoff')
      expect(lines[1]).toContain('database reachable again')
      expect(Number(/suppressed=(\d+)/.exec(lines[1]!)![1])).toBeGreaterThan(5)
    } finally {
      await notifier.close()
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => proxy.close(resolve))
    }
  })

  it('a process that works and awaits results holds one LISTEN connection', async () => {
    const echo = defineTask({
      name: 'echo',
      handler: async (_p: unknown, ctx) => ctx.jobId,
    })
    const worker = t.pgq.createWorker({ tasks: [echo] })
    await worker.start()
    try {
      const job = await t.pgq.enqueue(echo, {})
      expect(await t.pgq.jobs.waitFor(job.id, { timeoutMs: 10_000 })).toBe(job.id)
      // The wait subscribed before it read the job, and its subscription outlives it by `idleMs`.
      expect(await listenBackends(t.schema)).toHaveLength(1)
    } finally {
      await worker.stop()
    }
  })
})
