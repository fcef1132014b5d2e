// The static files of the dashboard (its script, stylesheet and icon), read once from the package's
// assets/ folder and served from memory with their content type.
import { readFile } from 'node:fs/promises'

const FILES: Record<string, string> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
}
const cache = new Map<string, Buffer>()

/** The file and its content type, or undefined for any other name. */
export async function asset(name: string): Promise<{ body: Buffer; type: string } | undefined> {
  const type = FILES[name]
  if (!type) return undefined
  let body = cache.get(name)
  if (!body) {
    body = await readFile(new URL(`../assets/${name}`, import.meta.url))
    cache.set(name, body)
  }
  return { body, type }
}
