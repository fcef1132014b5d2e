import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { AnyTaskDefinition } from '@pgq/core'
import { CliExit, EXIT_CODES } from './lifetime.js'

/** What a tasks module exports that the worker uses. */
export interface TaskModule {
  readonly tasks: AnyTaskDefinition[]
  /** Every other export, for features that read more from the module (e.g. schedules). */
  readonly exports: Readonly<Record<string, unknown>>
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx'])

function isTask(value: unknown): value is AnyTaskDefinition {
  const v = value as AnyTaskDefinition | undefined
  return typeof v?.name === 'string' && typeof v.handler === 'function' && typeof v.retryPolicy === 'object'
}

/**
 * The one line for a tasks module path that names no file.
 *
 * ```ts
 * tasksNotFound('dist/taks.js') // 'tasks module not found: dist/taks.js (/app/dist/taks.js); …'
 * ```
 */
export function tasksNotFound(path: string): string {
  return `tasks module not found: ${path} (${resolve(path)}); --tasks takes the path of a file exporting defineTask() results, e.g. --tasks dist/tasks.js or src/tasks.ts`
}

/**
 * Makes `import()` of TypeScript work, once: with `tsx` (the app's own, else the one @pgq/cli
 * brings), else Node's type stripping (Node ≥ 22.18 / 23.6), else a one-line error with the fix.
 */
let typescriptReady: Promise<void> | undefined
function enableTypeScript(path: string): Promise<void> {
  typescriptReady ??= (async () => {
    for (const from of [resolve(path), fileURLToPath(import.meta.url)]) {
      let root: string
      try {
        root = dirname(createRequire(from).resolve('tsx/package.json'))
      } catch {
        continue
      }
      // the ES module entry of `tsx/esm/api` (its CommonJS one cannot be imported by path)
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        exports: Record<string, { import: { default: string } }>
      }
      const api = join(root, manifest.exports['./esm/api']!.import.default)
      const { register } = (await import(pathToFileURL(api).href)) as { register: () => unknown }
      register()
      return
    }
    if ((process.features as { typescript?: unknown }).typescript) return
    throw new CliExit(
      EXIT_CODES.config,
      `cannot load the tasks module ${path}: it is TypeScript and Node ${process.version} cannot strip types; install tsx (npm install -D tsx), use Node >= 22.18, or pass the compiled .js`,
    )
  })()
  return typescriptReady
}

const LOCATION = /(file:\/\/\/[^\s:]+|\/[^\s:]+\.[cm]?[jt]sx?):(\d+)(?::(\d+))?/

/**
 * Node 20 throws an ES module's syntax error without its file and line (it prints them only when
 * the error is uncaught): import the module again in a child, where it is, and read them. Nothing
 * of the module runs: a syntax error fails the whole module graph before any of it is evaluated.
 */
function probeSyntaxError(href: string): RegExpExecArray | null {
  const child = spawnSync(
    process.execPath,
    ['--input-type=module', '--eval', `await import(${JSON.stringify(href)})`],
    {
      encoding: 'utf8',
      timeout: 15_000,
    },
  )
  return new RegExp(`^${LOCATION.source}$`, 'm').exec(child.stderr ?? '')
}

/** The reason an import failed; for a syntax error, with the file and line it is in. */
function located(error: unknown, href: string): string {
  const message = error instanceof Error ? error.message : String(error)
  // esbuild (tsx): "Transform failed with 1 error:\n/app/src/tasks.ts:12:4: ERROR: Expected …"
  const esbuild = /Transform failed|ERROR:/.test(message)
  if (!(error instanceof SyntaxError) && !esbuild) return message
  const where =
    LOCATION.exec(`${message}\n${error instanceof Error ? error.stack : ''}`) ?? probeSyntaxError(href)
  if (!where) return message
  const file = where[1]!.startsWith('file:') ? fileURLToPath(where[1]!) : where[1]!
  const line = message.split('\n').find((l) => l.includes('ERROR:')) ?? message.split('\n')[0]!
  return `SyntaxError at ${file}:${where[2]}${where[3] ? `:${where[3]}` : ''}: ${line.replace(/^.*ERROR:\s*/, '')}`
}

/**
 * Imports a tasks module (JavaScript, or TypeScript through tsx or Node's type stripping) and
 * collects the task definitions it exports: each `defineTask()` result, also inside exported
 * arrays or objects. A missing file, a syntax error (with file and line) or no task exported is a
 * {@link CliExit} with code 78 and one line.
 *
 * ```ts
 * const { tasks } = await loadTaskModule('src/tasks.ts')
 * ```
 */
export async function loadTaskModule(path: string): Promise<TaskModule> {
  const absolute = resolve(path)
  if (!existsSync(absolute)) throw new CliExit(EXIT_CODES.config, tasksNotFound(path))
  if (TYPESCRIPT.has(extname(absolute))) await enableTypeScript(path)
  const href = pathToFileURL(absolute).href
  let mod: Record<string, unknown>
  try {
    mod = (await import(href)) as Record<string, unknown>
  } catch (error) {
    throw new CliExit(EXIT_CODES.config, `cannot load the tasks module ${path}: ${located(error, href)}`, {
      cause: error,
    })
  }
  const tasks = new Map<string, AnyTaskDefinition>()
  const add = (value: unknown) => {
    if (isTask(value)) tasks.set(value.name, value)
  }
  for (const value of Object.values(mod)) {
    if (isTask(value)) add(value)
    else if (Array.isArray(value)) value.forEach(add)
    else if (value && typeof value === 'object') Object.values(value).forEach(add)
  }
  if (tasks.size === 0) {
    throw new CliExit(EXIT_CODES.config, `${path} exports no tasks (defineTask() results)`)
  }
  return { tasks: [...tasks.values()], exports: mod }
}
