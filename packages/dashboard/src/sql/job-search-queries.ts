// The jobs page's search: filters by state, queue, task, creation time and free text over the payload
// and the error history, newest first, a keyset page at a time (`id < before`). The statement walks
// the primary key backwards; a search that no index can narrow (free text, a time range) examines
// at most SEARCH_WINDOW ids per page and tells the page where to continue, so a page costs the same
// on a table of millions of rows as on a small one.
import type { Db, Names } from './dashboard-queries.js'

/** How many ids a free-text or time-range search examines per page. */
export const SEARCH_WINDOW = 50_000

/** What the jobs page filters on (all optional; lists match any of their values). */
export interface JobSearch {
  readonly states: readonly string[]
  readonly queues: readonly string[]
  readonly tasks: readonly string[]
  readonly createdFrom: Date | null
  readonly createdTo: Date | null
  readonly text: string | null
  /** Only ids below this one (the keyset cursor). */
  readonly before: string | null
  readonly limit: number
}

/** One job as listed (no payload or result). */
export interface JobListRow {
  id: string
  task: string
  queue: string
  state: string
  attempts: number
  max_attempts: number
  run_at: Date
  created_at: Date
  started_at: Date | null
  finished_at: Date | null
  progress: unknown
  last_error: string | null
}

/** A page of results and the cursor of the next one (null at the end). */
export interface JobPage {
  readonly rows: JobListRow[]
  readonly next: string | null
  /** Set when the page stopped at the end of its search window rather than after `limit` rows. */
  readonly windowEnd: string | null
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** One page of the search (see the file comment for the window). */
export async function searchJobs(db: Db, names: Names, search: JobSearch): Promise<JobPage> {
  const values: unknown[] = []
  const bind = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  const where: string[] = []
  if (search.states.length > 0) where.push(`j.state = ANY(${bind(search.states)}::text[])`)
  if (search.queues.length > 0) where.push(`j.queue = ANY(${bind(search.queues)}::text[])`)
  if (search.tasks.length > 0) where.push(`j.task = ANY(${bind(search.tasks)}::text[])`)
  if (search.createdFrom) where.push(`j.created_at >= ${bind(search.createdFrom)}`)
  if (search.createdTo) where.push(`j.created_at < ${bind(search.createdTo)}`)
  if (search.text) {
    const p = bind(likePattern(search.text))
    where.push(`(j.payload::text ILIKE ${p} OR j.errors::text ILIKE ${p} OR j.dedup_key ILIKE ${p})`)
  }
  const windowed = search.text !== null || search.createdFrom !== null || search.createdTo !== null
  let upper = search.before
  let lower: string | null = null
  let bottom: bigint | null = null // no id below this one can match (the first created at createdFrom)
  if (windowed) {
    if (upper === null) upper = await firstIdFrom(db, names, search.createdTo)
    if (upper === null) return { rows: [], next: null, windowEnd: null }
    if (search.createdFrom) bottom = BigInt((await firstIdFrom(db, names, search.createdFrom)) ?? upper)
    let floor = BigInt(upper) - BigInt(SEARCH_WINDOW)
    if (bottom !== null && floor < bottom) floor = bottom
    lower = floor > 0n ? floor.toString() : null
  }
  if (upper !== null) where.push(`j.id < ${bind(upper)}::bigint`)
  if (lower !== null) where.push(`j.id >= ${bind(lower)}::bigint`)
  const { rows } = await db.query<JobListRow>(
    `SELECT j.id::text AS id, j.task, j.queue, j.state, j.attempts, j.max_attempts, j.run_at, j.created_at,
       j.started_at, j.finished_at, j.progress, j.errors -> -1 ->> 'message' AS last_error
     FROM ${names.jobs} AS j
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY j.id DESC LIMIT ${bind(search.limit + 1)}`,
    values,
  )
  if (rows.length > search.limit) {
    const page = rows.slice(0, search.limit)
    return { rows: page, next: page.at(-1)!.id, windowEnd: null }
  }
  // fewer than a page: the end of the table or of the time range, or of this search window (then
  // the next page continues below it)
  const exhausted = lower === null || (bottom !== null && BigInt(lower) <= bottom)
  return exhausted ? { rows, next: null, windowEnd: null } : { rows, next: lower, windowEnd: lower }
}

/**
 * The first id created at or after `at` (exclusive upper bound of "created before `at`"), by a
 * binary search over the primary key (about 20 index lookups, in one statement): ids grow with
 * creation time, except for jobs inserted by a transaction that started long before it committed.
 * Without `at`: one past the newest id. Null when the table is empty.
 */
export async function firstIdFrom(db: Db, names: Names, at: Date | null): Promise<string | null> {
  if (at === null) {
    const { rows } = await db.query<{ top: string | null }>(
      `SELECT (max(j.id) + 1)::text AS top FROM ${names.jobs} AS j`,
    )
    return rows[0]?.top ?? null
  }
  const { rows } = await db.query<{ hi: string }>(
    `WITH RECURSIVE b(lo, hi) AS (
       SELECT min(j.id), max(j.id) + 1 FROM ${names.jobs} AS j
       UNION ALL
       SELECT CASE WHEN f.created_at < $1 THEN x.mid ELSE b.lo END,
              CASE WHEN f.created_at < $1 THEN b.hi ELSE x.mid END
       FROM b
       CROSS JOIN LATERAL (SELECT (b.lo + b.hi) / 2 AS mid) AS x
       LEFT JOIN LATERAL (SELECT j.created_at FROM ${names.jobs} AS j WHERE j.id >= x.mid ORDER BY j.id LIMIT 1) AS f ON true
       WHERE b.hi - b.lo > 1
     )
     SELECT b.hi::text AS hi FROM b WHERE b.hi - b.lo <= 1 OR b.lo IS NULL LIMIT 1`,
    [at],
  )
  const hi = rows[0]?.hi ?? null
  if (hi === null) return null
  // the binary search keeps min(id) as its low end: when even that job was created at or after
  // `at`, nothing is older
  const { rows: first } = await db.query<{ before: boolean }>(
    `SELECT j.created_at < $1 AS before FROM ${names.jobs} AS j ORDER BY j.id LIMIT 1`,
    [at],
  )
  return first[0]?.before === false ? (BigInt(hi) - 1n).toString() : hi
}
