// Copies the code samples of the guides from typechecked files into the markdown.
//
// In a markdown file, a fenced block right after a marker line
//   <!-- snippet: docs/examples/getting-started.ts#define-tasks -->
// is replaced by the lines between `// #region define-tasks` and `// #endregion define-tasks` of
// that file (dedented). `tsc -b` typechecks docs/examples (see its tsconfig.json), so every sample
// shown compiles. `node scripts/sync-doc-snippets.mjs` rewrites the markdown; `--check` only
// reports (exit 1) when a block differs from its source: docs/test/doc-samples.test.ts runs it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const MARKER = /^<!-- snippet: ([^#\s]+)#([\w-]+) -->$/

/** The lines of region `name` in `source`, dedented, without the region comments. */
export function extractRegion(source, name, where = 'source') {
  const lines = source.split('\n')
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`)
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`)
  if (start < 0 || end < 0) throw new Error(`${where}: no region "${name}"`)
  const body = lines.slice(start + 1, end)
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length))
  return body.map((l) => l.slice(indent)).join('\n')
}

/** Returns `text` with every marked block replaced by its region; `read(path)` reads a source. */
export function syncMarkdown(text, read) {
  const lines = text.split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    out.push(lines[i])
    const marker = MARKER.exec(lines[i].trim())
    if (!marker) continue
    const fence = lines[i + 1] ?? ''
    if (!/^```\w+$/.test(fence))
      throw new Error(`line ${i + 1}: a snippet marker must be followed by a fenced block`)
    const close = lines.findIndex((l, j) => j > i + 1 && l === '```')
    if (close < 0) throw new Error(`line ${i + 2}: unclosed block`)
    out.push(fence, extractRegion(read(marker[1]), marker[2], marker[1]), '```')
    i = close
  }
  return out.join('\n')
}

/** README.md and docs/*.md. */
export function markdownFiles() {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))
  return ['README.md', ...docs.map((f) => join('docs', f))]
}

function main() {
  const check = process.argv.includes('--check')
  const read = (path) => readFileSync(join(ROOT, path), 'utf8')
  const stale = []
  for (const file of markdownFiles()) {
    const text = read(file)
    const synced = syncMarkdown(text, read)
    if (synced === text) continue
    stale.push(file)
    if (!check) writeFileSync(join(ROOT, file), synced)
  }
  if (check && stale.length > 0) {
    process.stderr.write(
      `out of sync with docs/examples: ${stale.join(', ')}; run node scripts/sync-doc-snippets.mjs\n`,
    )
    process.exit(1)
  }
  if (!check) process.stdout.write(stale.length ? `updated ${stale.join(', ')}\n` : 'all snippets in sync\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
