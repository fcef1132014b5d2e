// Every page of the dashboard in a real browser (Debian's chromium), against a schema with jobs in
// every state, a real worker in this process and its real failure: content, click-through to a
// failed job's error and stack, keyboard navigation, dark mode, and the screenshots of the docs.

import type { Worker } from '@pgq/core'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { launchChromium, MAX_SCREENSHOT_BYTES, openPage, screenshot } from './browser-harness.js'
import { chargeCardTask, type Showcase, seedShowcase } from './browser-seed.js'
import { type DashboardServer, startDashboard } from './dashboard-server.js'

let t: TestSchema
let server: DashboardServer
let browser: Browser
let worker: Worker
let shown: Showcase
let declined: string
const pageErrors: string[] = []

beforeAll(async () => {
  browser = await launchChromium() // first: without chromium, fail before any other setup
  t = await createTestSchema()
  shown = await seedShowcase(t)
  const card = { declined: true }
  worker = t.pgq.createWorker({
    tasks: [chargeCardTask(card)],
    queues: { billing: 2 },
    scheduler: false,
    maintenance: false, // the seeded running jobs belong to simulated workers: no rescue
  })
  await worker.start()
  declined = (await t.pgq.enqueue('charge_card', { last4: '0002', cents: 4200 })).id
  await expect(t.pgq.jobs.waitFor(declined, { timeoutMs: 15_000 })).rejects.toThrow(/declined/)
  card.declined = false
  const paid = await t.pgq.enqueue('charge_card', { last4: '4242', cents: 1990 })
  await t.pgq.jobs.waitFor(paid.id, { timeoutMs: 15_000 })
  server = await startDashboard(t, { basePath: '/admin/pgq' })
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
  await worker?.stop()
  await t?.drop()
  expect(pageErrors).toEqual([])
})

/** A fresh page (own cookies), its script errors collected for the check at the end. */
async function open(path: string, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const { page, errors } = await openPage(browser, { colorScheme })
  page.on('close', () => pageErrors.push(...errors))
  await page.goto(`${server.url}${server.base}${path}`)
  return page
}

/** Per queue, the counts the overview must show, computed here from the table. */
async function expectedCounts(): Promise<Map<string, Record<string, number>>> {
  const { rows } = await t.pool.query<{
    queue: string
    waiting: number
    scheduled: number
    running: number
    failed: number
  }>(
    `SELECT queue,
       count(*) FILTER (WHERE state = 'available' AND run_at <= now())::int AS waiting,
       count(*) FILTER (WHERE state = 'available' AND run_at > now())::int AS scheduled,
       count(*) FILTER (WHERE state = 'running')::int AS running,
       count(*) FILTER (WHERE state = 'failed')::int AS failed
     FROM "${t.schema}".jobs GROUP BY queue`,
  )
  return new Map(rows.map(({ queue, ...counts }) => [queue, counts]))
}

describe('the dashboard in a browser', () => {
  it('overview: every queue with its counts and lag, the charts, live', async () => {
    const page = await open('/')
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('live')
    const expected = await expectedCounts()
    for (const queue of ['emails', 'video', 'reports', 'billing']) {
      const row = page.locator(`tr[data-queue="${queue}"]`)
      for (const column of ['waiting', 'scheduled', 'running', 'failed']) {
        expect(await row.getByTestId(`count-${column}`).textContent(), `${queue} ${column}`).toBe(
          String(expected.get(queue)?.[column] ?? 0),
        )
      }
    }
    const totalFailed = [...expected.values()].reduce((n, q) => n + (q.failed ?? 0), 0)
    expect(await page.getByTestId('total-failed').textContent()).toBe(String(totalFailed))
    expect(await page.locator('tr[data-queue="emails"]').getByTestId('queue-lag').textContent()).toMatch(
      /^\d+ min \d+ s$/,
    )
    expect(await page.getByTestId('chart-throughput').locator('rect.bar-succeeded').count()).toBeGreaterThan(
      30,
    )
    expect(await page.getByTestId('chart-failures').locator('rect.bar-failed').count()).toBeGreaterThan(5)
    await expect
      .poll(() => page.locator('tr[data-queue="video"] [data-testid="action-redrive"]').count())
      .toBe(1)
    const shot = await screenshot(page, 'overview')
    expect(shot.bytes).toBeLessThan(MAX_SCREENSHOT_BYTES)
    await page.close()
  })

  it('jobs: the newest 50, filters by state and queue, free-text search, the next page', async () => {
    const page = await open('/jobs')
    expect(await page.getByTestId('job-row').count()).toBe(50)
    expect(await page.getByTestId('job-row').first().getAttribute('data-job-id')).not.toBeNull()
    await expect.poll(() => page.getByTestId('next-page').count()).toBe(1)
    const shot = await screenshot(page, 'jobs')
    expect(shot.bytes).toBeLessThan(MAX_SCREENSHOT_BYTES)

    await page.locator('select[name="state"]').selectOption('failed')
    await page.locator('select[name="queue"]').selectOption('video')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/state=failed/)
    const failedVideo = (await expectedCounts()).get('video')?.failed
    expect(await page.getByTestId('job-row').count()).toBe(failedVideo)
    expect(new Set(await page.getByTestId('job-state').allTextContents())).toEqual(new Set(['failed']))

    await page.getByRole('link', { name: 'Clear' }).click()
    await page.getByTestId('search-input').fill('do_not_honor')
    await page.getByTestId('search-input').press('Enter')
    await page.waitForURL(/q=do_not_honor/)
    expect(await page.getByTestId('job-row').getAttribute('data-job-id')).toBe(declined)

    await page.getByRole('link', { name: 'Clear' }).click()
    const firstOfPage2 = page.getByTestId('job-row').nth(49)
    const last = Number(await firstOfPage2.getAttribute('data-job-id'))
    await page.getByTestId('next-page').click()
    await page.waitForURL(/before=/)
    expect(Number(await page.getByTestId('job-row').first().getAttribute('data-job-id'))).toBeLessThan(last)
    await page.close()
  })

  it('click through from the overview to the failed job: its error and its stack', async () => {
    const page = await open('/')
    await page.locator('tr[data-queue="billing"] [data-testid="count-failed"] a').click()
    await page.waitForURL(/state=failed/)
    await page.locator(`tr[data-job-id="${declined}"] a`, { hasText: `#${declined}` }).click()
    await page.waitForURL(new RegExp(`/jobs/${declined}$`))
    expect(await page.getByTestId('job-state').textContent()).toBe('failed')
    expect(await page.getByTestId('last-error').textContent()).toContain('card ending 0002 was declined')
    const attempt = page.getByTestId('timeline-error')
    expect(await attempt.textContent()).toContain('attempt 1 failed')
    const stack = attempt.locator('pre.stack')
    expect(await stack.isVisible()).toBe(false)
    await attempt.locator('summary', { hasText: 'stack' }).click()
    await stack.waitFor({ state: 'visible' })
    expect(await stack.textContent()).toMatch(
      /^CardDeclinedError: card ending 0002[\s\S]*\n\s+at .*browser-seed\.ts/,
    )
    expect(await page.getByTestId('payload').textContent()).toContain('"last4": "0002"')
    expect(await page.getByTestId('action-retry').isVisible()).toBe(true)
    const shot = await screenshot(page, 'failed-job')
    expect(shot.bytes).toBeLessThan(MAX_SCREENSHOT_BYTES)
    await page.close()
  })

  it('a running job: its progress bar and the worker holding it', async () => {
    const page = await open(`/jobs/${shown.running[0]}`)
    expect(await page.getByTestId('job-state').textContent()).toBe('running')
    expect(
      await page.getByTestId('progress-bar').evaluate((el) => (el as unknown as { value: number }).value),
    ).toBe(72)
    expect(await page.getByTestId('progress-value').textContent()).toBe('72 %')
    expect(await page.getByTestId('lock-holder').textContent()).toContain('render-1 pid 30211')
    expect(await page.getByTestId('action-cancel').isVisible()).toBe(true)
    await page.close()
  })

  it('schedules: cron, zone, the next five fires, paused state', async () => {
    const page = await open('/schedules')
    const nightly = page.locator('tr[data-schedule="nightly-report"]')
    expect(await nightly.textContent()).toContain('Europe/Paris')
    expect(await nightly.getByTestId('next-fires').locator('li').count()).toBe(5)
    expect(await nightly.getByTestId('schedule-status').textContent()).toBe('active')
    const cleanup = page.locator('tr[data-schedule="cleanup"]')
    expect(await cleanup.getByTestId('schedule-status').textContent()).toBe('paused')
    expect(await cleanup.getByTestId('action-resume').isVisible()).toBe(true)
    expect(await page.getByTestId('schedule-row').count()).toBe(3)
    const shot = await screenshot(page, 'schedules')
    expect(shot.bytes).toBeLessThan(MAX_SCREENSHOT_BYTES)
    await page.close()
  })

  it('workers: the live ones with their running jobs, this process among them', async () => {
    // The simulated workers beat now (a slow run must not let them pass the 60 s timeout).
    await t.pool.query(`UPDATE "${t.schema}".workers SET heartbeat_at = now()`)
    // and one that stopped a minute ago: listed under the gone ones
    await t.pool.query(
      `INSERT INTO "${t.schema}".workers (id, hostname, pid, queues, concurrency, started_at, heartbeat_at, stopped_at, stop_reason)
       VALUES (gen_random_uuid(), 'retired-host', 999, '{emails}', 4, now() - interval '1 hour',
               now() - interval '1 minute', now() - interval '1 minute', 'stopped')`,
    )
    const page = await open('/workers')
    const render = page.locator(`tr[data-worker-id="${shown.workers[0]}"]`)
    expect(await render.textContent()).toContain('render-1')
    expect(await render.getByTestId('worker-running').textContent()).toBe('3')
    const me = page.getByTestId('worker-row').filter({ hasText: String(process.pid) })
    expect(await me.textContent()).toContain('billing')
    expect(await page.getByTestId('worker-row').count()).toBe(3)
    const gone = await page.getByTestId('gone-workers').textContent()
    expect(gone).toContain('Gone in the last hour')
    expect(gone).toContain('retired-host')
    expect(gone).toMatch(/stopped/)
    const shot = await screenshot(page, 'workers')
    expect(shot.bytes).toBeLessThan(MAX_SCREENSHOT_BYTES)
    await page.close()
  })

  it('keyboard: g o/j/s/w, / to search, Esc, j/k to move, Enter to open', async () => {
    const page = await open('/')
    const go = async (key: string, path: RegExp) => {
      await page.keyboard.press('g')
      await page.keyboard.press(key)
      await page.waitForURL(path)
    }
    await go('j', /\/admin\/pgq\/jobs$/)
    await page.keyboard.press('/')
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("name")')).toBe('q')
    await page.keyboard.type('jk') // typed into the box, not taken as keys
    expect(await page.getByTestId('search-input').inputValue()).toBe('jk')
    expect(await page.locator('[data-selected]').count()).toBe(0)
    await page.keyboard.press('Escape')
    await expect.poll(() => page.evaluate('document.activeElement?.tagName')).toBe('BODY')
    await page.keyboard.press('j')
    await page.keyboard.press('j')
    await page.keyboard.press('k')
    const selected = page.locator('[data-selected]')
    const id = await page.getByTestId('job-row').first().getAttribute('data-job-id')
    expect(await selected.getAttribute('data-job-id')).toBe(id)
    await page.keyboard.press('Enter')
    await page.waitForURL(new RegExp(`/jobs/${id}$`))
    await go('s', /\/admin\/pgq\/schedules$/)
    await go('w', /\/admin\/pgq\/workers$/)
    await go('o', /\/admin\/pgq\/$/)
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Overview')
    await page.close()
  })

  it('dark mode: prefers-color-scheme dark gives a dark page with light text', async () => {
    const light = await open('/')
    const dark = await open('/', 'dark')
    const colours = (page: Page) =>
      page.evaluate<{ background: string; text: string }>(
        '({ background: getComputedStyle(document.body).backgroundColor, text: getComputedStyle(document.body).color })',
      )
    const luminance = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).map(Number)
      return (0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0)) / 255
    }
    const l = await colours(light)
    const d = await colours(dark)
    expect(luminance(l.background)).toBeGreaterThan(0.8)
    expect(luminance(d.background)).toBeLessThan(0.25)
    expect(luminance(d.text)).toBeGreaterThan(0.6)
    await expect.poll(() => dark.getByTestId('live-status').textContent()).toBe('live')
    const shot = await screenshot(dark, 'overview-dark')
    expect(shot.bytes).toBeLessThan(MAX_SCREENSHOT_BYTES)
    await light.close()
    await dark.close()
  })

  it('a hostile payload shows as text and runs nothing', async () => {
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    const { id } = await t.pgq.enqueue('send_email', { to: hostile }, { queue: 'quarantine' })
    const { page, errors } = await openPage(browser)
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    await page.goto(`${server.url}${server.base}/jobs/${id}`)
    expect(await page.getByTestId('payload').textContent()).toContain(hostile.replaceAll('"', '\\"'))
    expect(await page.locator('main img, main script').count()).toBe(0)
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('live')
    expect(dialogs).toEqual([])
    expect(errors).toEqual([])
    await page.close()
  })
})
