import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The bench package folder (this file lives in `src/` or `dist/`). */
export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The installed version of a dependency of pgq-bench, or `unknown`. */
export function packageVersion(name: string): string {
  try {
    const text = readFileSync(join(BENCH_ROOT, 'node_modules', name, 'package.json'), 'utf8')
    return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown')
  } catch {
    return 'unknown'
  }
}

/** The repository's current commit (short), with `+dirty` when the work tree has changes. */
export function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_ROOT, encoding: 'utf8' })
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../packages/pgq/src'], {
      cwd: BENCH_ROOT,
      encoding: 'utf8',
    })
    return `${head.trim()}${dirty.trim() ? '+dirty' : ''}`
  } catch {
    return 'unknown'
  }
}
