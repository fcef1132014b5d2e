import type { BenchEnv, BenchSystem } from '../types.js'
import { packageVersion } from '../versions.js'
import { BullMqSystem } from './bullmq.js'
import { GraphileSystem } from './graphile.js'
import { PgBossSystem } from './pgboss.js'
import { PgqSystem } from './pgq.js'
import { RawSqlSystem } from './raw-sql.js'

/** Every system the harness knows, in report order. */
export const SYSTEM_NAMES = ['pgq', 'graphile-worker', 'pg-boss', 'bullmq', 'raw-sql'] as const

/** One of {@link SYSTEM_NAMES}. */
export type SystemName = (typeof SYSTEM_NAMES)[number]

/** Creates the adapter of one system (not yet set up). */
export function createSystem(name: SystemName, env: BenchEnv): BenchSystem {
  switch (name) {
    case 'pgq':
      return new PgqSystem(env, packageVersion('pgq'))
    case 'graphile-worker':
      return new GraphileSystem(env, packageVersion('graphile-worker'))
    case 'pg-boss':
      return new PgBossSystem(env, packageVersion('pg-boss'))
    case 'bullmq':
      return new BullMqSystem(env, packageVersion('bullmq'))
    case 'raw-sql':
      return new RawSqlSystem(env)
  }
}
