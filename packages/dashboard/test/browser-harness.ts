// The real browser for the dashboard's browser tests (`*.browser.ts`, `npm run test:browser`):
// Debian's chromium driven by playwright-core. No browser is downloaded: when chromium is missing
// the tests fail and say how to install it. Screenshots go to a temp dir, or to docs/images when
// PGQ_SCREENSHOTS=update (that is how the committed ones are refreshed).
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'

/** The chromium the tests drive (`$PGQ_CHROMIUM` overrides Debian's path). */
export const CHROMIUM = process.env.PGQ_CHROMIUM ?? '/usr/bin/chromium'

/** A laptop screen: the size the screenshots are taken at. */
export const VIEWPORT = { width: 1280, height: 800 } as const

/** Screenshots larger than this are a sign of a bad page (or a photo of one), not a UI. */
export const MAX_SCREENSHOT_BYTES = 300 * 1024

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** Where {@link screenshot} writes: docs/images with PGQ_SCREENSHOTS=update, else a temp dir. */
export const SCREENSHOT_DIR =
  process.env.PGQ_SCREENSHOTS === 'update'
    ? join(ROOT, 'docs/images')
    : join(tmpdir(), 'pgq-dashboard-screenshots')

/** Launches headless chromium, or throws an error that says how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The dashboard's browser tests need Debian's chromium at ${CHROMIUM}, which is missing. Install it with ` +
        '`sudo apt-get install -y --no-install-recommends chromium` (or set PGQ_CHROMIUM to a chromium binary); ' +
        'do not run `npx playwright install`.',
    )
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  })
}

/** A fresh browser context (own cookies) at laptop size, light or dark, and its first page. */
export async function openPage(
  browser: Browser,
  options: { colorScheme?: 'light' | 'dark' } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    colorScheme: options.colorScheme ?? 'light',
    timezoneId: 'UTC',
    locale: 'en-US',
  })
  context.setDefaultTimeout(10_000)
  // Counts the live feed's events each page receives (see waitForFeed); the page's own script is
  // unchanged, this only listens too.
  await context.addInitScript(`(() => {
    const Native = window.EventSource
    if (!Native) return
    window.__pgqEvents = { counts: 0, job: 0, failure: 0 }
    window.EventSource = class extends Native {
      constructor(...args) {
        super(...args)
        for (const name of ['counts', 'job', 'failure']) this.addEventListener(name, () => { window.__pgqEvents[name] += 1 })
      }
    }
  })()`)
  const page = await context.newPage()
  // Script errors, CSP violations and failed loads show up here: a test asserts there were none.
  // The browser's own /favicon.ico request is outside the dashboard (the host app answers it).
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(`console: ${message.text()}`)
    }
  })
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname
    if (response.status() >= 400 && path !== '/favicon.ico') errors.push(`${response.status()}: ${path}`)
  })
  return { context, page, errors }
}

/** Saves a screenshot of the viewport as `dashboard-<name>.png`; returns its path and size. */
export async function screenshot(page: Page, name: string): Promise<{ path: string; bytes: number }> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, `dashboard-${name}.png`)
  // The header names the schema: show the default name, not the test's random one.
  await page.locator('header .schema').evaluate((el) => {
    el.textContent = 'pgq'
  })
  // No running animation (the live "flash" of a changed count) in the picture.
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' })
  return { path, bytes: statSync(path).size }
}

/**
 * Waits until the page's event stream has delivered its first update. The stream's 'open' (the
 * `live` indicator) comes with the response headers, before the server's LISTEN is in place; the
 * first update comes after it, so a change made from then on reaches the page.
 */
export async function waitForFeed(page: Page): Promise<void> {
  // (a polled page.evaluate: waitForFunction with a string would need eval, which the CSP forbids)
  await expect.poll(() => page.evaluate<number>('window.__pgqEvents?.counts ?? 0')).toBeGreaterThan(0)
}
