// The workspace's packages as a user installs them: `pnpm pack` tarballs (workspace: specifiers
// rewritten to versions), read back and checked like npm would see them.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const PNPM = ['--yes', 'pnpm@10.34.9']

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end (no shell), collecting its output. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A package.json as far as the checks read it. */
export interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly engines?: Record<string, string>
  readonly main?: string
  readonly types?: string
  readonly bin?: Record<string, string>
  readonly exports?: Record<string, Record<string, string>>
  readonly dependencies?: Record<string, string>
}

/** packages/<dir>/package.json of every workspace package, by folder name (pgq, cli, embedded, …). */
export function workspacePackages(): Map<string, Manifest> {
  const packages = new Map<string, Manifest>()
  for (const dir of readdirSync(join(ROOT, 'packages'))) {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as Manifest
    packages.set(dir, manifest)
  }
  return packages
}

/** A packed package: the tarball's path, its package.json and its file list (without `package/`). */
export interface Tarball {
  readonly path: string
  readonly manifestText: string
  readonly manifest: Manifest
  readonly files: ReadonlySet<string>
}

/** `pnpm pack` of packages/<dir> into `destination`, read back. */
export async function pack(dir: string, destination: string): Promise<Tarball> {
  const packed = await run('npx', [...PNPM, 'pack', '--pack-destination', destination], {
    cwd: join(ROOT, 'packages', dir),
  })
  if (packed.code !== 0) throw new Error(`pnpm pack of packages/${dir} failed: ${packed.stderr}`)
  const path = packed.stdout.trim().split('\n').at(-1)!.trim()
  const list = await run('tar', ['-tzf', path], { cwd: destination })
  const manifestText = (await run('tar', ['-xzOf', path, 'package/package.json'], { cwd: destination }))
    .stdout
  return {
    path,
    manifestText,
    manifest: JSON.parse(manifestText) as Manifest,
    files: new Set(list.stdout.split('\n').map((f) => f.replace(/^package\//, '').trim())),
  }
}

/** Every file a manifest points at (main, types, bin, exports), without a leading `./`. */
export function entryPoints(manifest: Manifest): string[] {
  const paths = [
    manifest.main,
    manifest.types,
    ...Object.values(manifest.bin ?? {}),
    ...Object.values(manifest.exports ?? {}).flatMap((conditions) => Object.values(conditions)),
  ]
  return paths.filter((p): p is string => typeof p === 'string').map((p) => p.replace(/^\.\//, ''))
}
