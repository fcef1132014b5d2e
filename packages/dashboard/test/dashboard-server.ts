// A real node:http server running the dashboard on a free port, and a browser-like client for it:
// it keeps the CSRF cookie, reads the token from a page's form, and posts forms with the headers a
// same-origin browser sends.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPgq, type Pgq } from '@pgq/core'
import type { TestSchema } from '../../pgq/test/test-database.js'
import { createDashboard, type Dashboard, type DashboardOptions } from '../src/index.js'

export interface DashboardServer {
  readonly url: string
  readonly base: string
  readonly dashboard: Dashboard
  readonly pgq: Pgq
  /** GET a path under the base path (or an absolute path starting with `//`-free `/`). */
  get(path: string, init?: RequestInit): Promise<Response>
  close(): Promise<void>
}

/** Starts a server whose handler answers the dashboard's paths and 404s the rest. */
export async function startDashboard(
  t: TestSchema,
  options: Omit<DashboardOptions, 'pgq'> = {},
): Promise<DashboardServer> {
  const pgq = createPgq({ pool: t.pool, schema: t.schema })
  const dashboard = createDashboard({ pgq, ...options })
  const server = http.createServer(async (req, res) => {
    if (!(await dashboard.handle(req, res))) res.writeHead(404).end('host app 404')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const base = dashboard.config.basePath
  return {
    url,
    base,
    dashboard,
    pgq,
    get: (path, init) => fetch(`${url}${base}${path}`, { redirect: 'manual', ...init }),
    async close() {
      await dashboard.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await pgq.close() // the pool belongs to the test schema: only the notifier closes
    },
  }
}

/** A browser session: its CSRF cookie and token, taken from a page. */
export interface Session {
  readonly cookie: string
  readonly token: string
}

/** Opens a page and returns its CSRF cookie and the token of its forms. */
export async function session(server: DashboardServer, path = '/'): Promise<Session> {
  const response = await server.get(path)
  const setCookie = response.headers.get('set-cookie') ?? ''
  const cookie = setCookie.split(';')[0]!
  const html = await response.text()
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
  if (!cookie || !token) throw new Error(`no CSRF cookie or token on ${path}`)
  return { cookie, token }
}

/** Posts a form to an action path the way a same-origin browser does; headers can be overridden. */
export function post(
  server: DashboardServer,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string | undefined> = {},
): Promise<Response> {
  const all: Record<string, string> = {}
  const merged = {
    'content-type': 'application/x-www-form-urlencoded',
    origin: server.url,
    'sec-fetch-site': 'same-origin',
    ...headers,
  }
  for (const [key, value] of Object.entries(merged)) if (value !== undefined) all[key] = value
  return fetch(`${server.url}${server.base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: all,
    body: new URLSearchParams(fields).toString(),
  })
}

/** Posts a form with the session's cookie and token. */
export function postAs(
  server: DashboardServer,
  s: Session,
  path: string,
  fields: Record<string, string> = {},
): Promise<Response> {
  return post(server, path, { _csrf: s.token, ...fields }, { cookie: s.cookie })
}

/** Reads server-sent events from a streaming response until `accept` returns true for one. */
export async function nextEvent(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  buffer: { text: string },
  accept: (event: string, data: unknown) => boolean,
): Promise<{ event: string; data: unknown }> {
  const decoder = new TextDecoder()
  for (;;) {
    let end = buffer.text.indexOf('\n\n')
    while (end >= 0) {
      const block = buffer.text.slice(0, end)
      buffer.text = buffer.text.slice(end + 2)
      const event = /^event: (.+)$/m.exec(block)?.[1]
      const data = /^data: (.+)$/m.exec(block)?.[1]
      if (event && data) {
        const parsed = JSON.parse(data) as unknown
        if (accept(event, parsed)) return { event, data: parsed }
      }
      end = buffer.text.indexOf('\n\n')
    }
    const { value, done } = await reader.read()
    if (done) throw new Error('the event stream ended')
    buffer.text += decoder.decode(value, { stream: true })
  }
}
