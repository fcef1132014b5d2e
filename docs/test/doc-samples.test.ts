// Every sample of the guides is exercised: TypeScript blocks are copies of regions of
// docs/examples/*.ts, which `tsc -b` typechecks; SQL blocks run on a migrated schema; the flags of
// `pgq …` shell lines exist in that command's --help.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../packages/pgq/test/test-database.js'
// @ts-expect-error: a plain .mjs script without type declarations
import { markdownFiles, ROOT, syncMarkdown } from '../../scripts/sync-doc-snippets.mjs'

/** The guides whose every sample must be exercised (the reference pages have their own tests). */
const GUIDES = [
  'README.md',
  'docs/getting-started.md',
  'docs/concepts.md',
  'docs/from-celery.md',
  'docs/from-graphile-worker-and-pg-boss.md',
  'docs/operations.md',
  'docs/enqueue.md',
  'docs/workers.md',
  'docs/testing.md',
  'docs/observability.md',
  'docs/flow-control.md',
  'examples/video-app/README.md',
]
const CLI = join(ROOT, 'packages', 'cli', 'dist', 'main.js')
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

interface Block {
  readonly file: string
  readonly line: number
  readonly lang: string
  readonly code: string
  readonly marker: string | undefined
}

function blocks(file: string): Block[] {
  const lines = read(file).split('\n')
  const found: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)$/.exec(lines[i]!)
    if (!open) continue
    const close = lines.findIndex((l, j) => j > i && l === '```')
    const marker = /^<!-- snippet: (\S+) -->$/.exec(lines[i - 1]?.trim() ?? '')?.[1]
    found.push({ file, line: i + 1, lang: open[1]!, code: lines.slice(i + 1, close).join('\n'), marker })
    i = close
  }
  return found
}

const all = GUIDES.flatMap(blocks)

describe('TypeScript samples', () => {
  it('every markdown file is in sync with docs/examples (node scripts/sync-doc-snippets.mjs)', () => {
    for (const file of markdownFiles() as string[]) {
      const text = read(file)
      expect(syncMarkdown(text, read), `${file} is out of sync: run node scripts/sync-doc-snippets.mjs`).toBe(
        text,
      )
    }
  })

  it('every ts block of the guides comes from a typechecked file', () => {
    const ts = all.filter((b) => b.lang === 'ts' || b.lang === 'typescript')
    expect(ts.length).toBeGreaterThan(20)
    for (const block of ts)
      expect(block.marker, `${block.file}:${block.line} has no snippet marker`).toBeDefined()
  })
})

describe('SQL samples', () => {
  let db: TestSchema
  beforeAll(async () => {
    db = await createTestSchema()
  })
  afterAll(async () => {
    await db?.drop()
  })

  const sql = all.filter((b) => b.lang === 'sql')
  it.each(sql.map((b) => [`${b.file}:${b.line}`, b] as const))('%s runs', async (_where, block) => {
    const client = await db.client()
    await client.query('BEGIN')
    try {
      // the samples name the default schema; the test runs them on its own
      await client.query(block.code.replaceAll('pgq.', `"${db.schema}".`))
    } finally {
      await client.query('ROLLBACK')
    }
  })
})

describe('shell samples', () => {
  const help = new Map<string, string>()
  const helpOf = (path: string[]) => {
    const key = path.join(' ')
    if (!help.has(key)) {
      const run = spawnSync(process.execPath, [CLI, ...path, '--help'], { encoding: 'utf8' })
      help.set(key, run.status === 0 ? run.stdout : '')
    }
    return help.get(key)!
  }
  const lines = all
    .filter((b) => b.lang === 'sh')
    .flatMap((b) =>
      b.code.split('\n').map((line, i) => [`${b.file}:${b.line + i + 1}`, line.split(' # ')[0]!.trim()]),
    )
    .filter(([, line]) => /^(\S+=\S+ )*pgq /.test(line!))

  it.each(lines)('%s: %s uses existing commands and flags', (_where, line) => {
    const tokens = line!
      .replace(/^(\S+=\S+ )+/, '')
      .replace(/[[\]]/g, ' ')
      .split(/\s+/)
      .slice(1)
    const path = [tokens[0]!]
    const sub = tokens[1]
    if (
      sub &&
      !sub.startsWith('-') &&
      new RegExp(`\\n\\s+${sub}\\b`).test(helpOf(path).split('Commands:')[1] ?? '')
    ) {
      path.push(sub)
    }
    const text = helpOf(path)
    expect(text, `pgq ${path.join(' ')} --help failed`).not.toBe('')
    for (const flag of tokens.filter((t) => /^--?[A-Za-z]/.test(t))) {
      expect(text, `pgq ${path.join(' ')} has no ${flag}`).toMatch(new RegExp(`(^|[\\s,])${flag}\\b`, 'm'))
    }
  })
})
