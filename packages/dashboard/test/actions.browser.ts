// Actions clicked in a real browser: pause and resume a schedule, run it now, cancel and delete a
// job, redrive a queue (each after its confirm dialog); a form posted from another site, refused;
// and a read-only dashboard on the same schema, whose pages draw no action and whose server refuses
// a forged POST, leaving the database as it was.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { launchChromium, openPage } from './browser-harness.js'
import { type Showcase, seedShowcase } from './browser-seed.js'
import { type DashboardServer, startDashboard } from './dashboard-server.js'

let t: TestSchema
let server: DashboardServer
let readOnly: DashboardServer
let browser: Browser
let shown: Showcase

beforeAll(async () => {
  browser = await launchChromium()
  t = await createTestSchema()
  shown = await seedShowcase(t)
  server = await startDashboard(t)
  readOnly = await startDashboard(t, { readOnly: true, basePath: '/view' })
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
  await readOnly?.close()
  await t?.drop()
})

const paused = async (name: string) => (await t.pgq.schedules.get(name))?.paused

/** Opens a page that accepts every confirm dialog and records its question. */
async function openAccepting(
  target: DashboardServer,
  path: string,
): Promise<{ page: Page; asked: string[] }> {
  const { page } = await openPage(browser)
  const asked: string[] = []
  page.on('dialog', (dialog) => {
    asked.push(dialog.message())
    void dialog.accept()
  })
  await page.goto(`${target.url}${target.base}${path}`)
  return { page, asked }
}

describe('actions in a browser', () => {
  it('pause and resume a schedule, each confirmed', async () => {
    const { page, asked } = await openAccepting(server, '/schedules')
    const digest = page.locator('tr[data-schedule="digest"]')
    expect(await digest.getByTestId('schedule-status').textContent()).toBe('active')

    await digest.getByTestId('action-pause').click()
    await page.waitForURL(/notice=/)
    expect(asked).toEqual(['Pause schedule digest?'])
    expect(await digest.getByTestId('schedule-status').textContent()).toBe('paused')
    expect(await digest.getByTestId('next-fires').textContent()).toBe('paused')
    expect(await paused('digest')).toBe(true)

    await digest.getByTestId('action-resume').click()
    await expect.poll(() => digest.getByTestId('schedule-status').textContent()).toBe('active')
    expect(asked).toEqual(['Pause schedule digest?', 'Resume schedule digest?'])
    expect(await digest.getByTestId('next-fires').locator('li').count()).toBe(5)
    expect(await paused('digest')).toBe(false)
    await page.close()
  })

  it('run a schedule now: its job appears as its last run', async () => {
    const { page } = await openAccepting(server, '/schedules')
    const nightly = page.locator('tr[data-schedule="nightly-report"]')
    expect(await nightly.getByTestId('last-job-link').count()).toBe(0)
    await nightly.getByTestId('action-trigger').click()
    await page.waitForURL(/notice=/)
    const { rows } = await t.pool.query<{ id: string }>(
      `SELECT id FROM "${t.schema}".jobs WHERE schedule_name = 'nightly-report'`,
    )
    expect(rows).toHaveLength(1)
    await nightly.getByTestId('last-job-link').click()
    await page.waitForURL(new RegExp(`/jobs/${rows[0]!.id}$`))
    expect(await page.getByTestId('schedule-link').textContent()).toBe('nightly-report')
    await page.close()
  })

  it('cancel a running job: the cancellation is requested', async () => {
    const id = shown.running[1]!
    const { page, asked } = await openAccepting(server, `/jobs/${id}`)
    await page.getByTestId('action-cancel').click()
    await page.waitForURL(/notice=/)
    expect(asked).toEqual([`Cancel job #${id}?`])
    expect((await t.pgq.jobs.get(id))?.cancelRequestedAt).toBeInstanceOf(Date)
    expect(await page.getByTestId('timeline').textContent()).toContain('cancel requested')
    await page.close()
  })

  it("redrive a queue's failed jobs from the overview, delete a job from its page", async () => {
    const { page, asked } = await openAccepting(server, '/')
    const video = page.locator('tr[data-queue="video"]')
    const failed = Number(await video.getByTestId('count-failed').textContent())
    expect(failed).toBeGreaterThan(0)
    await video.getByTestId('action-redrive').click()
    await page.waitForURL(/notice=/)
    expect(asked).toEqual([`Retry all ${failed} failed jobs of queue video?`])
    expect(await video.getByTestId('count-failed').textContent()).toBe('0')
    expect(await t.pgq.jobs.get(shown.failed[0]!)).toMatchObject({ state: 'available' })

    const doomed = shown.failed[1]!
    await page.goto(`${server.url}/jobs/${doomed}`)
    await page.getByTestId('action-delete').click()
    await page.waitForURL(/\/jobs\?notice=/)
    expect(asked.at(-1)).toBe(`Delete job #${doomed}? This cannot be undone.`)
    expect(await t.pgq.jobs.get(doomed)).toBeUndefined()
    await page.close()
  })

  it('a form posted from another site is refused', async () => {
    const job = shown.running[2]!
    // An attacker's page on another origin (localhost, not 127.0.0.1) that posts to the dashboard.
    const evil = http.createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(
          `<form method="post" action="${server.url}/actions/jobs/${job}/cancel"><input type="hidden" name="_csrf" value="guess"><button>win a prize</button></form>`,
        )
    })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    try {
      const { page } = await openPage(browser)
      await page.goto(`${server.url}/jobs/${job}`) // the victim has opened the dashboard: it has the cookie
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`)
      const [response] = await Promise.all([
        page.waitForResponse(/\/actions\//),
        page.getByRole('button').click(),
      ])
      expect(response.status()).toBe(403)
      expect((await t.pgq.jobs.get(job))?.cancelRequestedAt).toBeNull()
      await page.close()
    } finally {
      evil.closeAllConnections()
      await new Promise((resolve) => evil.close(resolve))
    }
  })

  it('read-only: no action on any page, a forged POST refused, the database unchanged', async () => {
    const snapshot = async () => ({
      jobs: (await t.pool.query(`SELECT id, state, cancel_requested_at FROM "${t.schema}".jobs ORDER BY id`))
        .rows,
      schedules: (await t.pool.query(`SELECT name, paused FROM "${t.schema}".schedules ORDER BY name`)).rows,
    })
    const before = await snapshot()
    const { page, errors } = await openPage(browser)
    const failed = (
      await t.pool.query<{ id: string }>(`SELECT id FROM "${t.schema}".jobs WHERE state = 'failed' LIMIT 1`)
    ).rows[0]!.id
    for (const path of [
      '/',
      '/jobs',
      '/jobs?state=failed',
      `/jobs/${failed}`,
      `/jobs/${shown.running[0]}`,
      '/schedules',
      '/workers',
    ]) {
      await page.goto(`${readOnly.url}/view${path}`)
      expect(await page.getByTestId('read-only-badge').textContent(), path).toBe('read-only')
      expect(await page.locator('form[method="post"], [data-testid^="action-"]').count(), path).toBe(0)
    }
    // The same page's job still renders its content; it just offers nothing to press.
    await page.goto(`${readOnly.url}/view/jobs/${failed}`)
    expect(await page.getByTestId('job-state').textContent()).toBe('failed')
    expect(await page.getByTestId('last-error').textContent()).toContain('503')

    // A POST made from the page itself (same origin, with the page's cookie) is refused.
    const statuses = await page.evaluate(`Promise.all([
      '/view/actions/jobs/${failed}/retry',
      '/view/actions/schedules/digest/pause',
      '/view/actions/queues/video/redrive',
    ].map((path) => fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'return=%2Fview%2F',
    }).then((r) => r.status)))`)
    expect(statuses).toEqual([403, 403, 403])
    expect(await snapshot()).toEqual(before)
    expect(errors.filter((e) => !e.startsWith('403: /view/actions/'))).toEqual([])
    await page.close()
  })
})
