// The one way the dashboard writes HTML: the `html` tagged template escapes every interpolated
// value unless it is already `Html` (the result of another `html` template or of `raw` on a
// constant). Arrays are joined, each item escaped the same way. No page builds HTML any other way.

/** A fragment of HTML that is safe to send as is. */
export class Html {
  readonly #text: string
  constructor(text: string) {
    this.#text = text
  }
  toString(): string {
    return this.#text
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
}

/**
 * Escapes text for an HTML element body or a quoted attribute value.
 *
 * ```ts
 * escapeHtml('<script>') // '&lt;script&gt;'
 * ```
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!)
}

type Value = Html | string | number | bigint | boolean | null | undefined | readonly Value[]

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof Html) return value.toString()
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

/**
 * Builds HTML from a template: interpolated values are escaped (null, undefined and false render
 * nothing; arrays are joined).
 *
 * ```ts
 * html`<td data-testid="job-task">${job.task}</td>`
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: readonly Value[]): Html {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return new Html(out)
}

/**
 * Marks a constant string as HTML. Never pass a value that came from the database or a request.
 *
 * ```ts
 * raw('&nbsp;')
 * ```
 */
export function raw(constant: string): Html {
  return new Html(constant)
}
