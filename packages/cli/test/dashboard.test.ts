// `pgq dashboard` as a real process: it starts, serves the pages under its base path, and exits 0 on
// SIGTERM even with a live event stream open.
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../embedded/src/ports.js'
import { createTestSchema, type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import { CLI, runCli } from './run-cli.js'

let t: TestSchema

beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'dashboard', '--schema', t.schema, ...args], {
    env: { ...process.env, DATABASE_URL: t.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => {
    output += d
  })
  child.stderr.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? '?')),
  )
  return { child, exited, output: () => output }
}

describe('pgq dashboard', () => {
  it('serves the dashboard under --base-path and exits 0 on SIGTERM', async () => {
    await t.pgq.enqueue('send_email', { to: 'a@example.com' }, { queue: 'emails' })
    const port = await freePort()
    const p = start(['--port', String(port), '--base-path', '/admin/pgq', '--read-only'])
    try {
      await waitFor(() => p.output().includes('dashboard ready at'), 20_000, 'dashboard ready')
      expect(p.output()).toContain(`http://127.0.0.1:${port}/admin/pgq/ (schema ${t.schema}, read-only)`)
      const page = await fetch(`http://127.0.0.1:${port}/admin/pgq`)
      expect(page.status).toBe(200)
      const html = await page.text()
      expect(html).toContain('data-queue="emails"')
      expect(html).toContain('data-testid="read-only-badge"')
      expect((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status).toBe(404)
      // the queue gauges at <base>/metrics, read from the database at scrape time
      const metrics = await fetch(`http://127.0.0.1:${port}/admin/pgq/metrics`)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toMatch(/^pgq_queue_jobs\{queue="emails",state="waiting"\} 1$/m)
      const stream = await fetch(`http://127.0.0.1:${port}/admin/pgq/events`)
      const reader = stream.body!.getReader()
      await reader.read() // the stream is open
      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)
    } finally {
      p.child.kill('SIGKILL')
    }
  })

  it('exits 78 on a schema that is not migrated and 64 on a bad base path', async () => {
    const port = await freePort()
    const unmigrated = await runCli(['dashboard', '--schema', 'not_migrated_here', '--port', String(port)], {
      DATABASE_URL: t.url,
    })
    expect(unmigrated.code).toBe(78)
    expect(unmigrated.stderr).toMatch(/is at migration 0/)
    const bad = await runCli(['dashboard', '--schema', t.schema, '--base-path', 'no slash'], {
      DATABASE_URL: t.url,
    })
    expect(bad.code).toBe(64)
    expect(bad.stderr).toMatch(/basePath/)
  })
})
