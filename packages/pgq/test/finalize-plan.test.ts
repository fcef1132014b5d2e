import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimJobs, type FinalizeItem, finalizeJobs } from '../src/sql/worker-queries.js'
import { createTestSchema, type TestSchema } from './test-database.js'

// The completer's statement must cost the same per job whatever the planner knows of the jobs
// table: a fresh install has no statistics, and statistics taken while no job ran say there is
// about one running row. Both once gave plans whose cost grew with table size or batch squared.

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'CTE Name'?: string
  'Subplan Name'?: string
  'Actual Loops'?: number
  'Actual Rows'?: number
  Plans?: PlanNode[]
}

function walk(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node)
  for (const child of node.Plans ?? []) walk(child, out)
  return out
}

const WORKER = '00000000-0000-4000-8000-0000000000f1'
const BATCH = 300

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
  await t.pool.query(`ALTER TABLE "${t.schema}".jobs SET (autovacuum_enabled = false)`)
})
afterAll(async () => {
  await t.drop()
})

/**
 * Claims a batch and writes its outcomes under EXPLAIN ANALYZE; returns the plan's nodes. A
 * retention of 0 deletes the rows in the statement instead of updating them.
 */
async function finalizePlan(retentionMs: number | null = null): Promise<PlanNode[]> {
  const claims = await claimJobs(t.pool, t.pgq.names, {
    queue: 'default',
    limit: BATCH,
    workerId: WORKER,
    leaseMs: 60_000,
    tasks: ['noop'],
  })
  expect(claims).toHaveLength(BATCH)
  const items: FinalizeItem[] = claims.map((c) => ({
    id: c.id,
    leaseToken: c.leaseToken,
    state: 'succeeded',
    result: null,
    error: null,
    delayMs: 0,
    refundAttempt: false,
    retentionMs,
    queue: null,
  }))
  let plan: PlanNode | undefined
  const explaining = {
    async query(text: string, values?: unknown[]) {
      const r = await t.pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values)
      plan = (r.rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan
      return { rows: [], rowCount: 0 }
    },
  }
  await finalizeJobs(explaining, t.pgq.names, items, 10, false)
  const { rows } = await t.pool.query(
    `SELECT count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded, count(*)::int AS kept
     FROM "${t.schema}".jobs WHERE id = ANY($1::bigint[])`,
    [items.map((i) => i.id)],
  )
  // the explained statement did write the outcomes
  if (retentionMs === 0) expect(rows[0]).toEqual({ succeeded: 0, kept: 0 })
  else expect(rows[0]).toEqual({ succeeded: BATCH, kept: BATCH })
  return walk(plan!)
}

function expectLinear(nodes: PlanNode[]): void {
  // the row locks are one primary-key probe per outcome, never a scan of the table testing each row
  // against the whole list of ids (table size × batch)
  const locking = nodes.find((n) => n['Subplan Name'] === 'CTE locked')
  expect(locking).toBeDefined()
  const lockScans = walk(locking!)
    .filter((n) => n['Relation Name'] === 'jobs')
    .map((n) => n['Node Type'])
  expect(lockScans).toEqual(['Index Scan'])
  // nothing is read once per row of another relation (a nested loop growing with the batch squared);
  // a hash join over one scan of the table is the planner's to choose on a small table, and the
  // one-row CTEs (counts, the commit setting) joined to every result row cost one row per loop
  const repeated = nodes.filter(
    (n) =>
      (n['Node Type'] === 'CTE Scan' || n['Node Type'] === 'Seq Scan') &&
      (n['Actual Loops'] ?? 1) > 1 &&
      (n['Actual Rows'] ?? 0) > 1,
  )
  expect(
    repeated.map((n) => `${n['Node Type']} ${n['CTE Name'] ?? n['Relation Name']} × ${n['Actual Loops']}`),
  ).toEqual([])
}

describe('the finalize statement plan', () => {
  it('probes the primary key per outcome on a never-analyzed table of 20,000 jobs', async () => {
    await t.pool.query(
      `INSERT INTO "${t.schema}".jobs (task, payload) SELECT 'noop', '{}' FROM generate_series(1, 20000)`,
    )
    const { rows } = await t.pool.query(
      `SELECT coalesce(last_analyze, last_autoanalyze) AS analyzed FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
      [t.schema],
    )
    expect(rows[0].analyzed).toBeNull()
    expectLinear(await finalizePlan())
  })

  it('stays linear with statistics taken while no job ran (about one running row, says the planner)', async () => {
    await t.pool.query(`ANALYZE "${t.schema}".jobs`)
    expectLinear(await finalizePlan())
  })

  it('deletes outcomes kept for 0 ms by primary-key probes too, with and without statistics', async () => {
    await t.pool.query(
      `INSERT INTO "${t.schema}".jobs (task, payload) SELECT 'noop', '{}' FROM generate_series(1, 2 * ${BATCH})`,
    )
    const fresh = await finalizePlan(0)
    expectLinear(fresh)
    expect(fresh.some((n) => n['Node Type'] === 'ModifyTable')).toBe(true)
    await t.pool.query(`ANALYZE "${t.schema}".jobs`)
    expectLinear(await finalizePlan(0))
  })
})
