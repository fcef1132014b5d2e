// The dashboard as one request handler: routes a request under the base path to a page, the live
// feed, a static file, the metrics hook or an action, and tells the caller when a path is not its
// own (so the host server's 404 or next middleware runs).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { PgqError, PgqValidationError } from '@pgq/core'
import { assertJobId } from '@pgq/core/internal'
import { isActionPath, noticeText, returnPath, runAction } from './actions.js'
import { asset } from './assets.js'
import { type DashboardConfig, type DashboardOptions, resolveConfig } from './config.js'
import { CSRF_FIELD, CsrfGuard } from './http/csrf.js'
import type { Html } from './http/html.js'
import { type DashboardRequest, locate, readForm } from './http/request.js'
import { redirect, securityHeaders, sendHtml, sendJson, sendText } from './http/responses.js'
import { parseJobsFilter } from './jobs-filter.js'
import { LiveFeed } from './live/live-feed.js'
import { errorPage, notFound, type PageContext } from './pages/layout.js'
import { databaseNow } from './sql/dashboard-queries.js'
import { Views } from './views.js'

const JOB_PAGE = /^\/jobs\/(\d{1,19})$/
const WORKFLOW_PAGE = /^\/workflows\/(\d{1,19})$/

/**
 * The pgq dashboard: a request handler for `node:http`, Express or Fastify. Protect it with your
 * own authentication; it protects its actions against cross-site requests itself.
 *
 * ```ts
 * const dashboard = createDashboard({ pgq, basePath: '/admin/pgq' })
 * http.createServer(async (req, res) => {
 *   if (!(await dashboard.handle(req, res))) res.writeHead(404).end()
 * }).listen(3000)
 * ```
 */
export class Dashboard {
  readonly config: DashboardConfig
  readonly #csrf: CsrfGuard
  readonly #views: Views
  readonly #feed: LiveFeed

  constructor(options: DashboardOptions) {
    this.config = resolveConfig(options)
    this.#csrf = new CsrfGuard(this.config.basePath)
    this.#views = new Views(this.config)
    const { pgq } = this.config
    const notifier = pgq.notifier()
    this.#feed = new LiveFeed({
      db: pgq.pool,
      names: pgq.names,
      subscribe: notifier ? (channel, handler) => notifier.subscribe(channel, handler) : undefined,
    })
  }

  /**
   * Answers the request when its path is under the base path and resolves true; resolves false
   * (without touching `res`) otherwise.
   *
   * ```ts
   * app.use('/admin/pgq', (req, res, next) => dashboard.handle(req, res).then((done) => done || next(), next))
   * ```
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const request = locate(req, this.config.basePath)
    if (!request) return false
    try {
      await this.#route(request, res)
    } catch (error) {
      this.#fail(request, res, error)
    }
    return true
  }

  /** Ends the live streams and their LISTEN subscriptions (the pgq client stays open). */
  async close(): Promise<void> {
    await this.#feed.close()
  }

  async #route(request: DashboardRequest, res: ServerResponse): Promise<void> {
    const { path, method, query } = request
    if (path === '/metrics' && this.config.metrics) return this.config.metrics(request.raw, res)
    if (method === 'POST') return this.#post(request, res)
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, POST')
      return sendText(res, 405, 'method not allowed')
    }
    if (path.startsWith('/assets/')) return this.#asset(path.slice('/assets/'.length), res)
    if (path === '/events') return this.#feed.add(res, this.#watchedJob(query))
    if (path === '/api/live') return sendJson(res, 200, await this.#views.live(this.#watchedJob(query)))
    const { token, cookie } = this.#csrf.tokenFor(request.raw)
    const ctx: PageContext = {
      config: this.config,
      csrfToken: token,
      now: await databaseNow(this.config.pgq.pool),
      notice: noticeText(query),
    }
    const page = await this.#page(ctx, request)
    sendHtml(res, page.status, page.body, cookie ? [cookie] : [])
  }

  async #page(ctx: PageContext, { path, query }: DashboardRequest): Promise<{ status: number; body: Html }> {
    if (path === '/' || path === '') return { status: 200, body: await this.#views.overview(ctx) }
    if (path === '/jobs') return { status: 200, body: await this.#views.jobs(ctx, parseJobsFilter(query)) }
    if (path === '/schedules') return { status: 200, body: await this.#views.schedules(ctx) }
    if (path === '/workers') return { status: 200, body: await this.#views.workers(ctx) }
    const job = JOB_PAGE.exec(path)
    if (job) {
      const body = await this.#views.job(ctx, assertJobId(job[1], 'id'))
      return body
        ? { status: 200, body }
        : { status: 404, body: notFound(ctx, `There is no job #${job[1]} (it may have been pruned).`) }
    }
    const workflow = WORKFLOW_PAGE.exec(path)
    if (workflow) {
      const body = await this.#views.workflow(ctx, assertJobId(workflow[1], 'id'))
      return body
        ? { status: 200, body }
        : {
            status: 404,
            body: notFound(ctx, `There is no workflow #${workflow[1]} (it may have been pruned).`),
          }
    }
    return { status: 404, body: notFound(ctx, `Nothing here: ${path}`) }
  }

  async #post(request: DashboardRequest, res: ServerResponse): Promise<void> {
    if (!isActionPath(request.path)) return sendText(res, 404, 'no such action')
    if (this.config.readOnly) return sendText(res, 403, 'the dashboard is read-only')
    const form = await readForm(request.raw)
    const refusal = this.#csrf.refusal(request.raw, form?.get(CSRF_FIELD) ?? null)
    if (refusal) return sendText(res, 403, refusal)
    if (!form) return sendText(res, 400, 'expected a url-encoded form')
    const outcome = await runAction(this.config, request.path, form)
    if (!outcome) return sendText(res, 404, 'no such action')
    redirect(res, returnPath(this.config.basePath, form.get('return'), outcome))
  }

  async #asset(name: string, res: ServerResponse): Promise<void> {
    const file = await asset(name)
    if (!file) return sendText(res, 404, 'not found')
    securityHeaders(res)
    res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': 'public, max-age=300' })
    res.end(file.body)
  }

  #watchedJob(query: URLSearchParams): string | null {
    const job = query.get('job')
    return job ? assertJobId(job, 'job') : null
  }

  #fail(request: DashboardRequest, res: ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.end()
      return
    }
    const refused = error instanceof PgqError && error.code === 'PGQ_WORKFLOW_RETRY_REFUSED'
    const userError =
      refused ||
      error instanceof PgqValidationError ||
      (error instanceof PgqError && /NOT_FOUND/.test(error.code))
    const status = refused ? 409 : userError ? (error instanceof PgqValidationError ? 400 : 404) : 500
    const message = userError
      ? (error as Error).message
      : 'The dashboard could not answer: the database did not respond as expected (see the server log).'
    if (!userError) {
      this.config.logger.error('dashboard: request failed', { path: request.path, error: String(error) })
    }
    if (request.method !== 'GET') {
      sendText(res, status, message)
      return
    }
    const ctx: PageContext = { config: this.config, csrfToken: '', now: new Date(), notice: null }
    sendHtml(res, status, errorPage(ctx, status === 500 ? 'Error' : 'Bad request', message))
  }
}

/**
 * Creates the dashboard handler for a pgq client.
 *
 * ```ts
 * import { createDashboard } from '@pgq/dashboard'
 * const dashboard = createDashboard({ pgq, basePath: '/admin/pgq', readOnly: false })
 * ```
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  return new Dashboard(options)
}
