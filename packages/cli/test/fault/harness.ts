// One scenario's world: a private cluster, a database owned by a non-superuser role the workers
// use, pgq migrated into it, the side-effect table, and helpers that check it all from outside.

import { createPgq, type Pgq } from '@pgq/core'
import pg from 'pg'
import { expect } from 'vitest'
import { waitFor } from '../../../pgq/test/test-database.js'
import { type Cluster, createCluster } from './cluster.js'

export const SCHEMA = 'pgq'
export const DB = 'app'

export interface World {
  readonly cluster: Cluster
  /** URL of the application role (not a superuser). */
  readonly url: string
  /** Environment of `pgq` processes: DATABASE_URL and PGQ_SCHEMA. */
  readonly env: Record<string, string>
  /** Enqueues through the library, as the application role. */
  readonly pgq: Pgq
  /** Superuser queries on the app database (a new connection each time). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>
  close(): Promise<void>
}

export async function createWorld(): Promise<World> {
  const cluster = await createCluster()
  await cluster.query('postgres', 'CREATE ROLE pgq_app LOGIN')
  await cluster.query('postgres', `CREATE DATABASE ${DB} OWNER pgq_app`)
  const url = `postgres://pgq_app@127.0.0.1:${cluster.port}/${DB}`
  // migrated in-process (as the application role): the suite tests the workers, not `pgq migrate`
  const pgq = createPgq({ connectionString: url, schema: SCHEMA, poolSize: 2 })
  await pgq.migrate()
  const app = new pg.Client({ connectionString: url })
  await app.connect()
  await app.query(
    `CREATE TABLE ${SCHEMA}.effects (job_id bigint PRIMARY KEY, runs int NOT NULL DEFAULT 1, pid int NOT NULL,
       at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  )
  await app.end()
  return {
    cluster,
    url,
    env: { DATABASE_URL: url, PGQ_SCHEMA: SCHEMA },
    pgq,
    query: (sql, values) => cluster.query(DB, sql, values),
    async close() {
      await pgq.close().catch(() => {})
      await cluster.destroy()
    },
  }
}

/**
 * Enqueues `count` effect jobs on `queue`, retrying each until it commits (the database may be
 * down or read-only); returns their ids.
 */
export async function enqueueCommitted(
  world: World,
  queue: string,
  count: number,
  payload: Record<string, unknown> = {},
  timeoutMs = 180_000,
): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const id = await waitFor(
      async () => {
        try {
          return (await world.pgq.enqueue('effect', payload, { queue })).id
        } catch {
          return undefined
        }
      },
      timeoutMs,
      'an enqueue that commits',
    )
    ids.push(id)
  }
  return ids
}

/** Enqueues `count` effect jobs on `queue` in one statement; returns their ids. */
export async function enqueueBatch(
  world: World,
  queue: string,
  count: number,
  payload: Record<string, unknown> = {},
): Promise<string[]> {
  const jobs = Array.from({ length: count }, () => ({ task: 'effect', payload, options: { queue } }))
  return (await world.pgq.enqueueMany(jobs)).map((j) => j.id)
}

/**
 * Waits until every job in `ids` has succeeded (polling; the database may be coming back). On a
 * timeout the error lists the jobs' states and `context()` (the workers' output).
 */
export async function waitAllSucceeded(
  world: World,
  ids: string[],
  timeoutMs: number,
  context: () => string = () => '',
): Promise<void> {
  const states = () =>
    world.query<{ state: string; n: number; locked_by: string | null }>(
      `SELECT state, locked_by::text AS locked_by, count(*)::int AS n FROM ${SCHEMA}.jobs
        WHERE id = ANY($1::bigint[]) GROUP BY 1, 2`,
      [ids],
    )
  try {
    await waitFor(
      async () => {
        try {
          const rows = await states()
          return rows.length === 1 && rows[0]!.state === 'succeeded' && rows[0]!.n === ids.length
        } catch {
          return false
        }
      },
      timeoutMs,
      `${ids.length} jobs succeeded`,
    )
  } catch (error) {
    const now = await states().catch((e: Error) => e.message)
    throw new Error(`${(error as Error).message}; jobs now: ${JSON.stringify(now)}\n${context()}`)
  }
}

/** How many times each job's handler ran to its end (0 when never). */
export async function runsOf(world: World, ids: string[]): Promise<Map<string, number>> {
  const rows = await world.query<{ id: string; runs: number }>(
    `SELECT j.id::text AS id, coalesce(e.runs, 0) AS runs
       FROM unnest($1::bigint[]) AS j(id) LEFT JOIN ${SCHEMA}.effects e ON e.job_id = j.id`,
    [ids],
  )
  return new Map(rows.map((r) => [r.id, r.runs]))
}

/**
 * Every job in `ids` ran exactly once, except those in `inFlight` (running when the fault hit),
 * which may have run twice: at-least-once, fenced by the lease token.
 */
export async function expectExactlyOnce(
  world: World,
  ids: string[],
  inFlight: ReadonlySet<string> = new Set(),
) {
  const runs = await runsOf(world, ids)
  const wrong = [...runs].filter(([id, n]) => n !== 1 && !(inFlight.has(id) && n === 2))
  expect(wrong, 'jobs that did not run exactly once (id, runs)').toEqual([])
}

/** Ids of the jobs running now. */
export async function runningJobs(world: World): Promise<Set<string>> {
  const rows = await world.query<{ id: string }>(
    `SELECT id::text AS id FROM ${SCHEMA}.jobs WHERE state = 'running'`,
  )
  return new Set(rows.map((r) => r.id))
}
