import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { BenchEnv, BenchSystem } from '../types.js'
import { packageVersion } from '../versions.js'

/** Every system the harness knows, in report order. */
export const SYSTEM_NAMES = ['pgq', 'graphile-worker', 'pg-boss', 'bullmq', 'raw-sql', 'pgq-base'] as const

/** What a run measures unless `--systems` says otherwise (`pgq-base` needs `PGQ_BASELINE`). */
export const DEFAULT_SYSTEMS: readonly SystemName[] = [
  'pgq',
  'graphile-worker',
  'pg-boss',
  'bullmq',
  'raw-sql',
]

/** One of {@link SYSTEM_NAMES}. */
export type SystemName = (typeof SYSTEM_NAMES)[number]

/**
 * Creates the adapter of one system (not yet set up). Adapters are imported on demand, so a worker
 * child process loads only its own library and its RSS is not inflated by the others.
 */
export async function createSystem(name: SystemName, env: BenchEnv): Promise<BenchSystem> {
  switch (name) {
    case 'pgq':
      return new (await import('./pgq.js')).PgqSystem(env, packageVersion('@pgq/core'))
    case 'graphile-worker':
      return new (await import('./graphile.js')).GraphileSystem(env, packageVersion('graphile-worker'))
    case 'pg-boss':
      return new (await import('./pgboss.js')).PgBossSystem(env, packageVersion('pg-boss'))
    case 'bullmq':
      return new (await import('./bullmq.js')).BullMqSystem(env, packageVersion('bullmq'))
    case 'raw-sql':
      return new (await import('./raw-sql.js')).RawSqlSystem(env)
    case 'pgq-base': {
      // another checkout of pgq, built (PGQ_BASELINE=/path/to/checkout): a before/after in one run
      const root = process.env.PGQ_BASELINE
      if (!root) throw new Error('pgq-base measures the pgq build at PGQ_BASELINE (a built checkout); set it')
      const lib = await import(pathToFileURL(`${root}/packages/pgq/dist/index.js`).href)
      const { version } = JSON.parse(readFileSync(`${root}/packages/pgq/package.json`, 'utf8')) as {
        version: string
      }
      return new (await import('./pgq.js')).PgqSystem(env, `${version} at ${root}`, 'pgq-base', lib)
    }
  }
}
