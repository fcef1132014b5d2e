// Charts as inline SVG drawn on the server: no script, no library, CSP-friendly. Colours come from
// the stylesheet (classes), so light and dark mode both apply.
import { type Html, html } from '../http/html.js'

/** One stacked series of a bar chart. */
export interface Series {
  readonly label: string
  /** CSS class of its bars (`bar-succeeded`, `bar-failed`, …). */
  readonly className: string
  readonly values: readonly number[]
}

const WIDTH = 600
const HEIGHT = 140
const PAD_LEFT = 36
const PAD_BOTTOM = 18
const PAD_TOP = 8

/** A round upper bound for the y axis (1, 2, 5 × 10ⁿ). */
export function niceMax(value: number): number {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power
  return 10 * power
}

/**
 * A stacked bar chart, one bar per minute (`labels[i]` names bar i in its tooltip).
 *
 * ```ts
 * barChart({ title: 'Finished per minute', testid: 'chart-throughput', labels, series: [ok, failed] })
 * ```
 */
export function barChart(options: {
  title: string
  testid: string
  labels: readonly string[]
  series: readonly Series[]
  xAxis: readonly [string, string, string]
}): Html {
  const n = options.labels.length
  const totals = options.labels.map((_, i) => options.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0))
  const max = niceMax(Math.max(0, ...totals))
  const plotW = WIDTH - PAD_LEFT
  const plotH = HEIGHT - PAD_BOTTOM - PAD_TOP
  const slot = plotW / Math.max(1, n)
  const barW = Math.max(1, slot - 2)
  const bars = options.labels.map((label, i) => {
    let y = PAD_TOP + plotH
    const parts = options.series.map((s) => {
      const v = s.values[i] ?? 0
      const h = (v / max) * plotH
      y -= h
      return v > 0
        ? html`<rect class="${s.className}" x="${(PAD_LEFT + i * slot + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"></rect>`
        : html``
    })
    const tip = options.series.map((s) => `${s.label} ${s.values[i] ?? 0}`).join(', ')
    return html`<g><title>${label}: ${tip}</title><rect class="bar-hit" x="${(PAD_LEFT + i * slot).toFixed(1)}" y="${PAD_TOP}" width="${slot.toFixed(1)}" height="${plotH}"></rect>${parts}</g>`
  })
  const base = PAD_TOP + plotH
  return html`<figure class="chart" data-testid="${options.testid}">
<figcaption>${options.title} <span class="legend">${options.series.map(
    (s) => html`<span class="key ${s.className}-key">${s.label}</span>`,
  )}</span></figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${options.title}" preserveAspectRatio="none">
<line class="axis" x1="${PAD_LEFT}" y1="${base}" x2="${WIDTH}" y2="${base}"></line>
<line class="grid" x1="${PAD_LEFT}" y1="${PAD_TOP}" x2="${WIDTH}" y2="${PAD_TOP}"></line>
<text class="tick" x="${PAD_LEFT - 4}" y="${PAD_TOP + 4}" text-anchor="end">${max}</text>
<text class="tick" x="${PAD_LEFT - 4}" y="${base}" text-anchor="end">0</text>
${bars}
<text class="tick" x="${PAD_LEFT}" y="${HEIGHT - 4}">${options.xAxis[0]}</text>
<text class="tick" x="${PAD_LEFT + plotW / 2}" y="${HEIGHT - 4}" text-anchor="middle">${options.xAxis[1]}</text>
<text class="tick" x="${WIDTH}" y="${HEIGHT - 4}" text-anchor="end">${options.xAxis[2]}</text>
</svg>
</figure>`
}
