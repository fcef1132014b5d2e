// From zero to a running app, the way docs/getting-started.md tells a user: the packages are packed
// into tarballs, installed with npm into a fresh folder outside the repository (no workspace links),
// the app of docs/examples/first-app is copied there, `npx pgq migrate` and `npx pgq work` run, the
// app's server enqueues in its transaction and reads the result; then the app installs jest from npm
// and runs its task's test (docs/examples/first-app/tasks.test.js) with @pgq/core/testing. Package
// names come from packages/*/package.json; every shipped name is under the @pgq scope (issue 16).
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, relative } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseUrl, waitFor } from '../../pgq/test/test-database.js'
import { entryPoints, pack, ROOT, run, type Tarball, workspacePackages } from './packed-packages.js'

/** What a user installs (the library and the CLI) and what the CLI brings along. */
const SHIPPED = ['pgq', 'cli', 'embedded', 'dashboard'] as const
const APP_FILES = ['db.js', 'tasks.js', 'server.js']

const manifests = workspacePackages()
const library = manifests.get('pgq')!.name
const work = mkdtempSync(join(tmpdir(), 'pgq-first-app-'))
const app = join(work, 'app')
const tarballs = new Map<string, Tarball>()
const children: ChildProcess[] = []
const database = `pgq_first_app_${process.pid}`
let appUrl = ''

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl() })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

function start(command: string, args: string[]) {
  const child = spawn(command, args, {
    cwd: app,
    env: { ...process.env, DATABASE_URL: appUrl, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  child.stdout.on('data', (d) => {
    output += d
  })
  child.stderr.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, exited, output: () => output }
}

beforeAll(async () => {
  for (const dir of SHIPPED) tarballs.set(dir, await pack(dir, work))
}, 240_000)

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  if (appUrl) await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
  rmSync(work, { recursive: true, force: true })
})

describe('packed packages', () => {
  it.each(SHIPPED)('packages/%s packs with its entry points, engines and no workspace: specifiers', (dir) => {
    const { manifest, manifestText, files } = tarballs.get(dir)!
    expect(manifest.name).toBe(manifests.get(dir)!.name)
    expect(manifest.private).toBeUndefined()
    expect(manifestText).not.toContain('workspace:')
    expect(manifest.engines?.node).toMatch(/^>=20/)
    expect(files).toContain('README.md')
    const entries = entryPoints(manifest)
    expect(entries.length).toBeGreaterThan(0)
    for (const entry of entries) expect(files, `${dir}: ${entry} is not in the tarball`).toContain(entry)
    // the internal packages it depends on are pinned to the versions packed beside it
    for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
      const sibling = [...manifests.values()].find((m) => m.name === name)
      if (sibling) expect(range).toBe(sibling.version)
    }
  })

  it('every shipped package is under the @pgq scope, the library is @pgq/core', () => {
    for (const dir of SHIPPED) expect(tarballs.get(dir)!.manifest.name).toMatch(/^@pgq\//)
    expect(library).toBe('@pgq/core')
    // npm's tarball name of a scoped package: scope-name-version
    expect(basename(tarballs.get('pgq')!.path)).toBe(`pgq-core-${manifests.get('pgq')!.version}.tgz`)
  })

  it('the CLI declares the pgq command and the library its types', () => {
    expect(Object.keys(tarballs.get('cli')!.manifest.bin ?? {})).toEqual(['pgq'])
    expect(tarballs.get('pgq')!.manifest.exports?.['.']?.types).toBe('./dist/index.d.ts')
  })
})

describe('a fresh app', () => {
  it('installs the tarballs with npm, migrates, works, enqueues in its transaction and gets the result', async () => {
    expect(relative(ROOT, app).startsWith('..')).toBe(true) // outside the repository
    mkdirSync(app)
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'my-app', private: true, type: 'module' }),
    )
    for (const file of APP_FILES) {
      const source = readFileSync(join(ROOT, 'docs', 'examples', 'first-app', file), 'utf8')
      writeFileSync(join(app, file), source.replaceAll(/from '(pgq|@pgq\/core)'/g, `from '${library}'`))
    }
    // as the guide says until the packages are published: the tarballs, and pg from the registry
    const paths = SHIPPED.map((dir) => tarballs.get(dir)!.path)
    const install = await run('npm', ['install', ...paths, 'pg', '--no-audit', '--no-fund'], {
      cwd: app,
      timeoutMs: 300_000,
    })
    expect(install.code, install.stderr).toBe(0)
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; link?: boolean }>
    }
    for (const dir of SHIPPED) {
      const name = tarballs.get(dir)!.manifest.name
      // a copy of the tarball, never a workspace link nor a registry package of the same name
      expect(lock.packages[`node_modules/${name}`]?.resolved).toMatch(/^file:.*\.tgz$/)
      expect(lstatSync(join(app, 'node_modules', name)).isSymbolicLink()).toBe(false)
    }
    expect(existsSync(join(app, 'node_modules', '.bin', 'pgq'))).toBe(true) // npx finds it locally

    await admin(`CREATE DATABASE "${database}"`)
    const url = new URL(databaseUrl())
    url.pathname = `/${database}`
    appUrl = url.href

    const migrate = await run('npx', ['pgq', 'migrate'], { cwd: app, env: { DATABASE_URL: appUrl } })
    expect(migrate.code, migrate.stderr).toBe(0)
    expect(migrate.stdout).toMatch(/schema "pgq": applied 1 create_jobs, .* \(now at version \d+\)/)

    const worker = start('npx', ['pgq', 'work', '--tasks', 'tasks.js'])
    const pid = await waitFor(
      () => /ready \(pid (\d+), queues emails=10, tasks send_invoice\)/.exec(worker.output())?.[1],
      60_000,
      'the worker ready',
    )
    const server = start(process.execPath, ['server.js'])
    const base = await waitFor(() => /listening on (\S+)/.exec(server.output())?.[1], 30_000, 'the server')

    const created = await fetch(`${base}/orders?amount_cents=1250`, { method: 'POST' })
    expect(created.status).toBe(202)
    const { orderId, jobId } = (await created.json()) as { orderId: string; jobId: string }
    const done = await waitFor(
      async () => {
        const body = (await (await fetch(`${base}/jobs/${jobId}`)).json()) as {
          state: string
          result: unknown
        }
        return body.state === 'succeeded' ? body : undefined
      },
      30_000,
      'the job to succeed',
    )
    expect(done.result).toEqual({ invoice: `INV-${orderId}`, amountCents: 1250 })
    expect((await fetch(`${base}/jobs/999999`)).status).toBe(404)

    // SIGTERM to the worker (npx does not forward it: docs/getting-started.md says so); npx
    // exits with the worker's code
    process.kill(Number(pid), 'SIGTERM')
    expect(await worker.exited).toBe(0)
    expect(worker.output()).toContain('worker stopped')
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  }, 420_000)

  it("runs the app's task test under jest with @pgq/core/testing (ESM, --experimental-vm-modules)", async () => {
    expect(appUrl, 'the app above was installed and migrated').not.toBe('')
    const source = readFileSync(join(ROOT, 'docs', 'examples', 'first-app', 'tasks.test.js'), 'utf8')
    writeFileSync(
      join(app, 'tasks.test.js'),
      source.replaceAll(/from '(pgq|@pgq\/core)(\/testing)?'/g, `from '${library}$2'`),
    )
    // the configuration docs/testing.md shows: no transform (the app is ESM), the node environment
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Record<string, unknown>
    manifest.scripts = { test: 'NODE_OPTIONS=--experimental-vm-modules jest' }
    manifest.jest = { testEnvironment: 'node', transform: {} }
    writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    const install = await run('npm', ['install', '--save-dev', 'jest@30', '--no-audit', '--no-fund'], {
      cwd: app,
      timeoutMs: 300_000,
    })
    expect(install.code, install.stderr).toBe(0)
    const jestVersion = (
      JSON.parse(readFileSync(join(app, 'node_modules', 'jest', 'package.json'), 'utf8')) as {
        version: string
      }
    ).version
    expect(jestVersion).toMatch(/^30\./)

    const jest = await run('npx', ['jest', '--ci', '--json', '--outputFile=jest-results.json'], {
      cwd: app,
      env: {
        DATABASE_URL: appUrl,
        NODE_OPTIONS: [process.env.NODE_OPTIONS, '--experimental-vm-modules'].filter(Boolean).join(' '),
      },
      timeoutMs: 120_000,
    })
    expect(jest.code, `${jest.stdout}\n${jest.stderr}`).toBe(0)
    const results = JSON.parse(readFileSync(join(app, 'jest-results.json'), 'utf8')) as {
      numPassedTests: number
      numFailedTests: number
      testResults: { assertionResults: { title: string; status: string }[] }[]
    }
    expect(results.numFailedTests).toBe(0)
    expect(
      results.testResults.flatMap((file) => file.assertionResults.map((a) => [a.title, a.status])),
    ).toEqual([
      ['runJob: the invoice of one order', 'passed'],
      ['drain: every due invoice, as a worker would run them', 'passed'],
    ])
    // the jobs ran against the app's database: their orders are there, the test schema is gone
    const client = new pg.Client({ connectionString: appUrl })
    await client.connect()
    try {
      const orders = await client.query(
        'SELECT amount_cents FROM orders WHERE amount_cents IN (990, 1500) ORDER BY 1',
      )
      expect(orders.rows).toEqual([{ amount_cents: 990 }, { amount_cents: 1500 }])
      const left = await client.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgq_test_%'")
      expect(left.rows).toEqual([])
    } finally {
      await client.end()
    }
  }, 420_000)
})
