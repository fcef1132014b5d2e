// Reading requests: the path under the base path (Express strips its mount path from `req.url` and
// keeps the full one in `req.originalUrl`), the query string, and url-encoded form bodies (or the
// object a body parser already made of them).
import type { IncomingMessage } from 'node:http'

/** A request as the router sees it. */
export interface DashboardRequest {
  readonly raw: IncomingMessage
  readonly method: string
  /** The path below the base path, starting with `/` (`/` for the overview). */
  readonly path: string
  readonly query: URLSearchParams
}

/**
 * The request's path below `basePath`, or null when it is not a dashboard path.
 *
 * ```ts
 * locate(req, '/admin/pgq') // { path: '/jobs', query } for GET /admin/pgq/jobs?state=failed
 * ```
 */
export function locate(req: IncomingMessage, basePath: string): DashboardRequest | null {
  const full = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/'
  let url: URL
  try {
    url = new URL(full, 'http://dashboard.invalid')
  } catch {
    return null
  }
  const pathname = url.pathname
  let path: string
  if (basePath === '') path = pathname
  else if (pathname === basePath) path = '/'
  else if (pathname.startsWith(`${basePath}/`)) path = pathname.slice(basePath.length)
  else return null
  return { raw: req, method: (req.method ?? 'GET').toUpperCase(), path, query: url.searchParams }
}

const MAX_BODY_BYTES = 64 * 1024

/** A form field's values. */
export type Form = URLSearchParams

/**
 * The url-encoded form of a POST (at most 64 KB). When a body parser (Express's `urlencoded`) read
 * the body already, its object is used instead.
 */
export async function readForm(req: IncomingMessage): Promise<Form | null> {
  // a body parser's object, when it read the body (a JSON-only parser leaves `{}` and the stream unread)
  const parsed = (req as { body?: unknown }).body
  const used = parsed !== null && typeof parsed === 'object' && !Buffer.isBuffer(parsed)
  if (used && (Object.keys(parsed).length > 0 || req.readableEnded)) {
    const form = new URLSearchParams()
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') form.append(key, v)
    }
    return form
  }
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded')) return null
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk as Buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
