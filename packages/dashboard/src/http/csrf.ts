// Protection of the actions against cross-site requests, in two independent layers:
//  1. the origin: a POST whose `Sec-Fetch-Site` is not `same-origin`, or whose `Origin` names another
//     host than the request's own, is refused;
//  2. a double-submit token: each browser gets a random nonce signed with a per-process secret
//     (`<nonce>.<hmac>`) in a `SameSite=Strict; HttpOnly` cookie, and every form carries the same
//     value in a hidden field. A POST must carry both, equal, and correctly signed.
// A restart changes the secret: forms of pages rendered before it are refused once (reload the page).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** The cookie and the form field that carry the token. */
export const CSRF_COOKIE = 'pgq_csrf'
export const CSRF_FIELD = '_csrf'

/** Issues and checks tokens with one per-process secret. */
export class CsrfGuard {
  readonly #secret = randomBytes(32)
  readonly #cookiePath: string

  constructor(basePath: string) {
    this.#cookiePath = basePath === '' ? '/' : basePath
  }

  /** The request's valid token, or a new one with the `Set-Cookie` value to send. */
  tokenFor(req: IncomingMessage): { token: string; cookie: string | null } {
    const current = cookieValue(req, CSRF_COOKIE)
    if (current && this.#valid(current)) return { token: current, cookie: null }
    const nonce = randomBytes(18).toString('base64url')
    const token = `${nonce}.${this.#sign(nonce)}`
    const secure = isHttps(req) ? '; Secure' : ''
    return {
      token,
      cookie: `${CSRF_COOKIE}=${token}; Path=${this.#cookiePath}; HttpOnly; SameSite=Strict${secure}`,
    }
  }

  /** Why a POST is refused (a short reason), or null when it passes both layers. */
  refusal(req: IncomingMessage, field: string | null): string | null {
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin') return `cross-site request (Sec-Fetch-Site: ${site})`
    const origin = req.headers.origin
    if (origin !== undefined) {
      let host: string
      try {
        host = new URL(origin).host
      } catch {
        return 'cross-origin request (Origin: null)'
      }
      const own = forwardedHost(req) ?? req.headers.host
      if (host !== own) return 'cross-origin request (Origin does not match Host)'
    }
    const cookie = cookieValue(req, CSRF_COOKIE)
    if (!cookie || !field) return 'missing CSRF token (reload the page)'
    if (!equal(cookie, field) || !this.#valid(field)) return 'invalid CSRF token (reload the page)'
    return null
  }

  #sign(nonce: string): string {
    return createHmac('sha256', this.#secret).update(nonce).digest('base64url')
  }

  #valid(token: string): boolean {
    const [nonce, mac, extra] = token.split('.')
    if (!nonce || !mac || extra !== undefined) return false
    return equal(mac, this.#sign(nonce))
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function forwardedHost(req: IncomingMessage): string | undefined {
  const value = req.headers['x-forwarded-host']
  return (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim()
}

function isHttps(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true
  const proto = req.headers['x-forwarded-proto']
  return (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim() === 'https'
}

/** One cookie's value from the request, or undefined. */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
