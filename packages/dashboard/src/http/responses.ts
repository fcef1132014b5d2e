// Writing responses: every response carries the security headers; HTML pages a strict CSP with no
// inline script or style, so a payload that slipped through escaping still could not run.
import type { ServerResponse } from 'node:http'
import type { Html } from './html.js'

/** The Content-Security-Policy of every response. */
export const CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** Headers every dashboard response sends. */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'same-origin')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
}

/** Sends an HTML page (never cached: it shows live data). */
export function sendHtml(
  res: ServerResponse,
  status: number,
  body: Html,
  cookies: readonly string[] = [],
): void {
  securityHeaders(res)
  if (cookies.length > 0) res.setHeader('Set-Cookie', [...cookies])
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(body.toString())
}

/** Sends a JSON body. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  securityHeaders(res)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(JSON.stringify(value))
}

/** Sends a short plain-text answer (errors of non-page requests). */
export function sendText(res: ServerResponse, status: number, text: string): void {
  securityHeaders(res)
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(`${text}\n`)
}

/** Redirects after a POST (303: the browser follows with a GET). */
export function redirect(res: ServerResponse, location: string): void {
  securityHeaders(res)
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store' })
  res.end()
}
