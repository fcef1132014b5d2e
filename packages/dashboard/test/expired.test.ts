// Expired jobs (their deadline passed before they started) on the pages: the state filter and
// badge, the overview's last hour, the job page's timeline and Retry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expireJobs } from '../../pgq/src/sql/expiry-queries.js'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { type DashboardServer, startDashboard } from './dashboard-server.js'

let t: TestSchema
let server: DashboardServer
let expired: string
let waiting: string

beforeAll(async () => {
  t = await createTestSchema()
  const { rows } = await t.pool.query<{ id: string }>(
    `SELECT id::text FROM "${t.schema}".enqueue_many($1::jsonb) ORDER BY ord`,
    [JSON.stringify([{ task: 'late', expires_at: '2000-01-01T00:00:00Z' }, { task: 'late' }])],
  )
  ;[expired, waiting] = rows.map((r) => r.id) as [string, string]
  await expireJobs(t.pool, t.pgq.names, { limit: 100, retentionMs: null })
  server = await startDashboard(t)
})
afterAll(async () => {
  await server.close()
  await t.drop()
})

const page = async (path: string) => (await server.get(path)).text()

describe('expired jobs in the dashboard', () => {
  it('the state filter offers expired and lists them with their badge', async () => {
    const html = await page('/jobs?state=expired')
    expect(html).toContain('<option value="expired" selected>expired</option>')
    expect([...html.matchAll(/data-job-id="(\d+)"/g)].map((m) => m[1])).toEqual([expired])
    expect(html).toContain('badge state-expired')
    expect(html).toContain('data-testid="action-bulk-retry"')
  })

  it('the overview counts them in the last hour', async () => {
    const html = await page('/')
    expect(html).toContain('1 finished')
    expect(html).toMatch(/data-testid="total-expired">1</)
    expect(html).toContain('bar-expired')
  })

  it('the job page ends its timeline with the expiry and offers Retry', async () => {
    const html = await page(`/jobs/${expired}`)
    expect(html).toMatch(
      /<li class="expired">[\s\S]*?<strong>expired<\/strong><p class="error-text">expired: not started by its deadline/,
    )
    expect(html).not.toContain('attempt 0 failed')
    expect(html).toContain('data-testid="action-retry"')
    expect(await page(`/jobs/${waiting}`)).not.toContain('data-testid="action-retry"')
  })
})
