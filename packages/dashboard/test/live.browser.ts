// Live updates seen in a real browser while a real worker (in this process) runs jobs: a failed job
// retried from its page (after the confirm step) turns succeeded on the open page, a progress bar
// moves without a reload, a new failure pops up as a toast with the counts, and the page falls back
// to polling when the event stream is refused. Every wait awaits a condition, none sleeps.

import { defineTask, type Worker } from '@pgq/core'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema, waitFor } from '../../pgq/test/test-database.js'
import { launchChromium, openPage, waitForFeed } from './browser-harness.js'
import { chargeCardTask } from './browser-seed.js'
import { type DashboardServer, startDashboard } from './dashboard-server.js'

/** A promise the test resolves when it wants the handler to go on. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

let t: TestSchema
let server: DashboardServer
let browser: Browser
let worker: Worker
const card: { declined: boolean; gate?: Promise<void> } = { declined: true }
const importSteps = { parsed: gate(), done: gate() }

const importContacts = defineTask({
  name: 'import_contacts',
  queue: 'imports',
  maxAttempts: 1,
  handler: async (_payload: { file: string }, ctx) => {
    await ctx.progress(10, { step: 'upload' })
    await importSteps.parsed.promise
    await ctx.progress(60, { step: 'dedupe' })
    await importSteps.done.promise
    return { imported: 1200 }
  },
})

beforeAll(async () => {
  browser = await launchChromium()
  t = await createTestSchema()
  worker = t.pgq.createWorker({
    tasks: [chargeCardTask(card), importContacts],
    queues: { billing: 2, imports: 1 },
    scheduler: false,
  })
  await worker.start()
  server = await startDashboard(t, { basePath: '/ops' })
})
afterAll(async () => {
  importSteps.parsed.open()
  importSteps.done.open()
  await browser?.close()
  await server?.close()
  await worker?.stop()
  await t?.drop()
})

const state = async (id: string) => (await t.pgq.jobs.get(id))?.state
const url = (path: string) => `${server.url}${server.base}${path}`

/** Opens a page and waits until its event stream is connected and has delivered an update. */
async function openLive(path: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openPage(browser)
  await opened.page.goto(url(path))
  await expect.poll(() => opened.page.getByTestId('live-status').textContent()).toBe('live')
  await waitForFeed(opened.page)
  return opened
}

async function failedCharge(last4: string): Promise<string> {
  card.declined = true
  const { id } = await t.pgq.enqueue('charge_card', { last4, cents: 4200 })
  await expect(t.pgq.jobs.waitFor(id, { timeoutMs: 15_000 })).rejects.toThrow(/declined/)
  return id
}

describe('live updates in a browser', () => {
  it('retry a failed job (confirmed) and watch it succeed on the open page', async () => {
    const id = await failedCharge('0002')
    card.declined = false
    const charge = gate()
    card.gate = charge.promise

    const { page, errors } = await openLive('/jobs?state=failed')
    await page.locator(`tr[data-job-id="${id}"] a`, { hasText: `#${id}` }).click()
    await page.waitForURL(new RegExp(`/ops/jobs/${id}$`))
    expect(await page.getByTestId('job-state').textContent()).toBe('failed')

    // The confirm step: dismissed, nothing happens; accepted, the job is retried.
    const questions: string[] = []
    page.once('dialog', (dialog) => {
      questions.push(dialog.message())
      void dialog.dismiss()
    })
    await page.getByTestId('action-retry').click()
    await expect.poll(() => questions).toEqual([`Retry job #${id}?`])
    expect(await state(id)).toBe('failed')
    expect(page.url()).toBe(url(`/jobs/${id}`))

    page.once('dialog', (dialog) => void dialog.accept())
    await page.getByTestId('action-retry').click()
    await page.waitForURL(/notice=retried/)
    expect(await page.getByTestId('notice').textContent()).toBe('Retried 1 job(s).')
    // The worker takes it at once and waits in the handler: the open page follows, on its own.
    await waitFor(async () => (await state(id)) === 'running', 10_000, 'the retried job running')
    await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 10_000 }).toBe('running')
    await waitForFeed(page)

    charge.open()
    await expect
      .poll(() => page.getByTestId('job-state').textContent(), { timeout: 10_000 })
      .toBe('succeeded')
    expect(await page.getByTestId('result').textContent()).toContain('"charged": 4200')
    expect(await page.getByTestId('timeline').textContent()).toContain('attempt 1 failed')
    expect(await page.getByTestId('action-retry').count()).toBe(0)
    expect(await state(id)).toBe('succeeded')
    expect(errors).toEqual([])
    await page.close()
  })

  it('a progress bar moves without a reload', async () => {
    const { id } = await t.pgq.enqueue(importContacts, { file: 'contacts.csv' })
    await waitFor(
      async () => (await t.pgq.jobs.get(id))?.progress !== null && (await state(id)) === 'running',
      10_000,
      'the import running with progress',
    )
    const { page, errors } = await openLive(`/jobs/${id}`)
    const value = page.getByTestId('progress-value')
    expect(await value.textContent()).toBe('10 %')
    await page.evaluate('window.__samePage = true') // gone if the page reloads

    importSteps.parsed.open()
    await expect.poll(() => value.textContent()).toBe('60 %')
    expect(
      await page.getByTestId('progress-bar').evaluate((el) => (el as unknown as { value: number }).value),
    ).toBe(60)
    expect(await page.evaluate('window.__samePage')).toBe(true)

    importSteps.done.open()
    await expect
      .poll(() => page.getByTestId('job-state').textContent(), { timeout: 10_000 })
      .toBe('succeeded')
    expect(errors).toEqual([])
    await page.close()
  })

  it('a new failure shows as a toast and in the counts of an open overview', async () => {
    const { page, errors } = await openLive('/')
    const failedCount = page.locator('tr[data-queue="billing"] [data-testid="count-failed"]')
    const before = Number(await failedCount.textContent())
    await page.evaluate('window.__samePage = true')

    const id = await failedCharge('0005')
    const toast = page.locator('.toast', { hasText: `Job #${id} (charge_card) failed` })
    await toast.waitFor({ state: 'visible' })
    expect(await toast.textContent()).toContain('card ending 0005 was declined')
    await expect.poll(() => failedCount.textContent()).toBe(String(before + 1))
    await expect.poll(() => page.getByTestId('total-failed').textContent()).toBe(String(before + 1))
    expect(await page.evaluate('window.__samePage')).toBe(true)

    await toast.locator('a').click()
    await page.waitForURL(new RegExp(`/ops/jobs/${id}$`))
    expect(await page.getByTestId('job-state').textContent()).toBe('failed')
    expect(errors).toEqual([])
    await page.close()
  })

  it('without the event stream the page polls, and still sees new failures', async () => {
    const { page } = await openPage(browser)
    await page.route('**/ops/events*', (route) => route.fulfill({ status: 503, body: 'stream refused' }))
    await page.goto(url('/'))
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('polling')
    const failedCount = page.locator('tr[data-queue="billing"] [data-testid="count-failed"]')
    const before = Number(await failedCount.textContent())
    await failedCharge('0009')
    await expect.poll(() => failedCount.textContent(), { timeout: 10_000 }).toBe(String(before + 1))
    await page.close()
  })
})
