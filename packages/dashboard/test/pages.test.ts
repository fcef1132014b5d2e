// Every page over real HTTP against a real database with jobs in every state, under a base path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { type DashboardServer, startDashboard } from './dashboard-server.js'
import { type Seeded, seedEveryState } from './seed.js'

let t: TestSchema
let server: DashboardServer
let s: Seeded

beforeAll(async () => {
  t = await createTestSchema()
  s = await seedEveryState(t)
  await t.pgq.schedules.set({ name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Paris', task: 'report' })
  server = await startDashboard(t, { basePath: '/admin/pgq' })
})
afterAll(async () => {
  await server.close()
  await t.drop()
})

const page = async (path: string) => {
  const response = await server.get(path)
  return { status: response.status, headers: response.headers, html: await response.text() }
}
const count = (html: string, testid: string) => html.split(`data-testid="${testid}"`).length - 1

describe('pages', () => {
  it('the overview shows each queue with waiting, scheduled, running and failed counts and the charts', async () => {
    const { status, html, headers } = await page('/')
    expect(status).toBe(200)
    expect(headers.get('content-type')).toMatch(/text\/html/)
    const row = /<tr data-testid="queue-row" data-queue="emails"[\s\S]*?<\/tr>/.exec(html)?.[0] ?? ''
    const cell = (name: string) =>
      new RegExp(`data-testid="count-${name}"[^>]*><a[^>]*>(\\d+)<`).exec(row)?.[1]
    expect([cell('waiting'), cell('scheduled'), cell('running'), cell('failed')]).toEqual([
      '1',
      '1',
      '1',
      '1',
    ])
    expect(html).toContain('data-queue="default"') // known from the live worker's queues
    expect(count(html, 'chart-throughput')).toBe(1)
    expect(count(html, 'chart-failures')).toBe(1)
    expect(html).toMatch(/<svg[^>]*role="img"/)
    expect(html).toContain('3 finished') // succeeded, failed and cancelled in the last hour
  })

  it('the jobs page lists every state, newest first, without payloads', async () => {
    const { status, html } = await page('/jobs')
    expect(status).toBe(200)
    const ids = [...html.matchAll(/data-testid="job-row" data-job-id="(\d+)"/g)].map((m) => m[1])
    expect(ids).toEqual([s.cancelled, s.failed, s.succeeded, s.running, s.scheduled, s.waiting])
    for (const state of ['available', 'running', 'succeeded', 'failed', 'cancelled']) {
      expect(html).toContain(`state-${state}`)
    }
    expect(html).not.toContain('example.com') // payloads only on the detail page
    expect(html).toContain('mailbox &lt;full&gt;')
  })

  it('filters by state, queue, task, text and time range', async () => {
    const ids = async (query: string) =>
      [...(await page(`/jobs?${query}`)).html.matchAll(/data-job-id="(\d+)"/g)].map((m) => m[1])
    expect(await ids('state=failed')).toEqual([s.failed])
    expect(await ids('state=available&queue=emails')).toEqual([s.scheduled, s.waiting])
    expect(await ids('task=other')).toEqual([])
    expect(await ids('q=broken%40example')).toEqual([s.failed]) // payload text
    expect(await ids('q=SMTP')).toEqual([s.failed]) // error text
    expect(await ids('q=100%25')).toEqual([]) // LIKE wildcards are literal
    expect(await ids('from=2000-01-01T00:00&to=2100-01-01T00:00')).toHaveLength(6)
    expect(await ids('to=2000-01-01T00:00')).toEqual([])
    const bad = await page('/jobs?state=done')
    expect(bad.status).toBe(400)
    expect(bad.html).toContain('state: must be one of')
  })

  it('pages with a keyset cursor, 50 per page', async () => {
    const more = await t.pgq.enqueueMany(Array.from({ length: 60 }, () => ({ task: 'bulk', payload: {} })))
    const first = await page('/jobs?task=bulk')
    const firstIds = [...first.html.matchAll(/data-job-id="(\d+)"/g)].map((m) => m[1])
    expect(firstIds).toHaveLength(50)
    const next = /data-testid="next-page" href="([^"]+)"/.exec(first.html)?.[1]?.replaceAll('&amp;', '&')
    expect(next).toBe(`/admin/pgq/jobs?task=bulk&before=${firstIds.at(-1)}`)
    const second = await page(next!.slice('/admin/pgq'.length))
    const secondIds = [...second.html.matchAll(/data-job-id="(\d+)"/g)].map((m) => m[1])
    expect([...firstIds, ...secondIds]).toEqual(more.map((j) => j.id).reverse())
    expect(second.html).not.toContain('data-testid="next-page"')
    await t.pool.query(`DELETE FROM "${t.schema}".jobs WHERE task = 'bulk'`)
  })

  it('a time range jumps to its ids: exact results, no further page', async () => {
    // ids grow with creation time (every job's created_at is rewritten to keep that true)
    const jobs = await t.pgq.enqueueMany(
      Array.from({ length: 10 }, (_, i) => ({ task: 'hist', payload: { i } })),
    )
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET created_at = timestamptz '2020-01-01T00:00Z' + (id - $1::bigint) * interval '1 hour'`,
      [jobs[0]!.id],
    )
    const { html } = await page('/jobs?task=hist&from=2020-01-01T03:00&to=2020-01-01T06:00')
    const ids = [...html.matchAll(/data-job-id="(\d+)"/g)].map((m) => m[1])
    expect(ids).toEqual([jobs[5]!.id, jobs[4]!.id, jobs[3]!.id])
    expect(html).not.toContain('data-testid="next-page"')
    await t.pool.query(`DELETE FROM "${t.schema}".jobs WHERE task = 'hist'`)
  })

  it('a free-text search examines 50,000 ids per page and continues below', async () => {
    const old = await t.pgq.enqueue('needle_task', { note: 'needle' })
    const far = String(BigInt(old.id) + 120_000n)
    await t.pool.query(
      `INSERT INTO "${t.schema}".jobs (id, task, payload) OVERRIDING SYSTEM VALUE VALUES ($1, 'needle_task', '{"note": "needle"}')`,
      [far],
    )
    const seen: string[] = []
    let path: string | undefined = '/jobs?q=needle'
    let pages = 0
    while (path) {
      const { html } = await page(path)
      seen.push(...[...html.matchAll(/data-job-id="(\d+)"/g)].map((m) => m[1]!))
      const next = /data-testid="next-page" href="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&')
      if (next) expect(html).toContain('data-testid="window-end"')
      path = next?.slice('/admin/pgq'.length)
      pages += 1
    }
    expect(seen).toEqual([far, old.id])
    expect(pages).toBe(3) // (far-50,000, far], then two more windows down to the first id
    await t.pool.query(`DELETE FROM "${t.schema}".jobs WHERE task = 'needle_task'`)
  })

  it('the job detail shows the payload escaped, the timeline with stacks, and the lock holder', async () => {
    const failed = await page(`/jobs/${s.failed}`)
    expect(failed.status).toBe(200)
    expect(count(failed.html, 'timeline-error')).toBe(2)
    expect(failed.html).toContain('at send (mail.js:10:5)')
    expect(failed.html).toContain(`attempt 1 started on worker ${s.workerId.slice(0, 8)}`)
    expect(failed.html).toContain('data-testid="action-retry"')

    const waiting = await page(`/jobs/${s.waiting}`)
    expect(waiting.html).toContain('&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;')
    expect(waiting.html).not.toContain('<script>alert')

    const running = await page(`/jobs/${s.running}`)
    expect(running.html).toMatch(/<progress data-testid="progress-bar" data-progress max="100" value="40">/)
    expect(running.html).toMatch(/data-testid="lock-holder">host-a pid 4242/)
    expect(running.html).toContain('data-testid="action-cancel"')
    expect(running.html).not.toContain('data-testid="action-delete"')

    const succeeded = await page(`/jobs/${s.succeeded}`)
    expect(succeeded.html).toMatch(/data-testid="result">\{\n[^<]*&quot;sent&quot;: true/)

    // a workflow node: its workflow is named, and a node waiting on its parent shows as blocked
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_chain('[{"task":"first_step","payload":1},{"task":"second_step"}]')::text AS id`,
    )
    const nodes = (await t.pgq.workflows.get(rows[0]!.id))!.nodes
    const blocked = await page(`/jobs/${nodes[1]!.id}`)
    expect(blocked.html).toContain(
      `data-testid="workflow" href="/admin/pgq/workflows/${rows[0]!.id}">#${rows[0]!.id}<`,
    )
    expect(blocked.html).toMatch(/blocked/)
    expect((await page('/jobs?state=blocked')).html).toContain(`href="/admin/pgq/jobs/${nodes[1]!.id}"`)

    expect((await page('/jobs/999999999')).status).toBe(404)
  })

  it('the workflow page lists every node with its state and parents, linked from a node', async () => {
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT "${t.schema}".create_group('[{"task":"thumb","payload":1},{"task":"thumb","payload":2}]',
         '{"task":"publish"}', 'cancel', 'video <7>')::text AS id`,
    )
    const wf = rows[0]!.id
    const info = (await t.pgq.workflows.get(wf))!
    const [m1, m2, callback] = info.nodes
    // a member cancelled by a user counts as failed: the callback is cancelled by it
    await t.pgq.jobs.cancel(m2!.id)

    const { status, html } = await page(`/workflows/${wf}`)
    expect(status).toBe(200)
    expect(html).toMatch(/data-testid="workflow-title">Workflow #\d+ <small>video &lt;7&gt;<\/small>/)
    expect(html).toMatch(/data-testid="workflow-state">running</) // the first member still waits
    const nodeRows = [...html.matchAll(/<tr data-testid="node-row" data-job-id="(\d+)">([\s\S]*?)<\/tr>/g)]
    expect(nodeRows.map((m) => m[1])).toEqual([m1!.id, m2!.id, callback!.id])
    const stateOf = (row: string) => /data-testid="node-state">(\w+)</.exec(row)?.[1]
    expect(nodeRows.map((m) => stateOf(m[2]!))).toEqual(['available', 'cancelled', 'cancelled'])
    expect(/data-testid="node-parents">([^<]*)</.exec(nodeRows[2]![2]!)?.[1]).toBe('1, 2')
    expect(nodeRows[2]![2]).toContain('data-testid="node-error"')
    expect(nodeRows[2]![2]).toContain('a job this job depends on failed or was cancelled')
    expect(nodeRows[0]![2]).toContain(`href="/admin/pgq/jobs/${m1!.id}"`)
    expect(html).toContain('cancel (a node that fails for good cancels its dependants)')

    // the node's job page links here
    expect((await page(`/jobs/${callback!.id}`)).html).toContain(`href="/admin/pgq/workflows/${wf}"`)
    expect((await page('/workflows/999999999')).status).toBe(404)
  })

  it('truncates payloads over 64 KB with a note', async () => {
    const big = await t.pgq.enqueue('big', { text: 'x'.repeat(100_000) })
    const { html } = await page(`/jobs/${big.id}`)
    expect(html).toContain('data-testid="payload-truncated"')
    expect(html.length).toBeLessThan(90_000)
    await t.pool.query(`DELETE FROM "${t.schema}".jobs WHERE id = $1`, [big.id])
  })

  it('the schedules page shows the cron, time zone, next five fires and the actions', async () => {
    const { status, html } = await page('/schedules')
    expect(status).toBe(200)
    expect(html).toContain('data-schedule="nightly"')
    expect(html).toContain('Europe/Paris')
    const fires = /data-testid="next-fires"><ol class="fires">([\s\S]*?)<\/ol>/.exec(html)?.[1] ?? ''
    expect(fires.match(/<li/g)).toHaveLength(5)
    expect(html).toContain('data-testid="action-pause"')
    expect(html).toContain('data-testid="action-trigger"')
  })

  it('the workers page lists live workers with the jobs they run now, then stopped and lost ones as gone', async () => {
    const { status, html } = await page('/workers')
    expect(status).toBe(200)
    expect(html).toContain(`data-worker-id="${s.workerId}"`)
    expect(html).toMatch(/data-testid="worker-running"><a[^>]*>1</)
    expect(html).toContain('None recorded.')
    // a stale heartbeat: no longer live, listed as lost (the worker_status view of migration 0008)
    await t.pool.query(`UPDATE "${t.schema}".workers SET heartbeat_at = now() - interval '10 minutes'`)
    const lost = (await page('/workers')).html
    expect(lost).not.toContain('data-testid="worker-row"')
    expect(lost).toContain('lost (heartbeat went stale)')
    // a graceful stop: listed as stopped
    await t.pool.query(
      `UPDATE "${t.schema}".workers SET stopped_at = now(), stop_reason = 'stopped', heartbeat_at = now()`,
    )
    const stopped = (await page('/workers')).html
    expect(stopped).not.toContain('data-testid="worker-row"')
    expect(stopped).toMatch(/<td>stopped<\/td>/)
    await t.pool.query(
      `UPDATE "${t.schema}".workers SET stopped_at = NULL, stop_reason = NULL, heartbeat_at = now()`,
    )
  })

  it('honours the base path: links, assets, and paths outside it left to the host', async () => {
    const { html } = await page('/')
    expect(html).toContain('href="/admin/pgq/assets/dashboard.css"')
    expect(html).toContain('src="/admin/pgq/assets/dashboard.js"')
    expect(html).toContain('href="/admin/pgq/assets/favicon.svg"')
    const icon = await fetch(`${server.url}/admin/pgq/assets/favicon.svg`)
    expect(icon.headers.get('content-type')).toBe('image/svg+xml')
    expect(html).toContain('href="/admin/pgq/jobs"')
    expect(html).not.toMatch(/href="\/jobs/)
    const outside = await fetch(`${server.url}/jobs`)
    expect(outside.status).toBe(404)
    expect(await outside.text()).toBe('host app 404')
    expect((await fetch(`${server.url}/admin/pgqx`)).status).toBe(404)
    expect((await server.get('/nope')).status).toBe(404)
    const js = await server.get('/assets/dashboard.js')
    expect(js.headers.get('content-type')).toMatch(/javascript/)
    expect(await js.text()).toContain('EventSource')
  })

  it('sends the security headers and no inline script', async () => {
    const { headers, html } = await page('/')
    expect(headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(headers.get('x-content-type-options')).toBe('nosniff')
    expect(headers.get('referrer-policy')).toBe('same-origin')
    expect(headers.get('set-cookie')).toMatch(/pgq_csrf=[^;]+; Path=\/admin\/pgq; HttpOnly; SameSite=Strict/)
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/) // every script is a file
    expect(html).not.toMatch(/\sstyle="/)
  })
})
