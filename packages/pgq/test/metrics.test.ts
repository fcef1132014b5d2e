// @pgq/core/metrics against a real worker and database: a run of known outcomes, scraped over HTTP and
// parsed with a Prometheus text-format parser, must say what the database says.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import parsePrometheus from 'parse-prometheus-text-format'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collectQueueMetrics, collectWorkerMetrics, metricsHandler } from '../src/metrics.js'
import { PermanentError } from '../src/task/job-outcome.js'
import { defineTask } from '../src/task/task.js'
import type { Worker } from '../src/worker/worker.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
let server: http.Server
let url: string
const registry = new Registry()

beforeAll(async () => {
  t = await createTestSchema()
  server = http.createServer(metricsHandler(registry))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`
})
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await t.drop()
})

interface Sample {
  labels?: Record<string, string>
  value?: string
}
type Family = { name: string; type: string; metrics: Sample[] }
type Parsed = Map<string, Family>

/**
 * Scrapes over HTTP and parses the text. parse-prometheus-text-format 1.1.1 folds a histogram's
 * labelled series into one (it handles unlabelled histograms only), so the text is parsed a second
 * time with histograms typed `untyped`: their `_bucket`, `_sum` and `_count` samples then come back
 * as families of their own, labels intact.
 */
async function scrape(): Promise<Parsed> {
  const res = await fetch(url)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  const families = parsePrometheus(text) as Family[]
  const samples = parsePrometheus(text.replace(/^(# TYPE \S+) histogram$/gm, '$1 untyped')) as Family[]
  // the interleaved _bucket/_sum/_count lines come back as several families of one name: merge them
  const merged: Parsed = new Map()
  for (const f of samples)
    merged.set(f.name, { ...f, metrics: [...(merged.get(f.name)?.metrics ?? []), ...f.metrics] })
  for (const f of families) merged.set(f.name, f)
  return merged
}

/** The sum of the samples of `name` matching `labels` (a histogram: its `_count`); 0 if absent. */
function value(parsed: Parsed, name: string, labels: Record<string, string> = {}): number {
  const family = parsed.get(name)
  const series = family?.type === 'HISTOGRAM' ? parsed.get(`${name}_count`) : family
  const match = series?.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return (match ?? []).reduce((sum, m) => sum + Number(m.value), 0)
}

async function sql<R>(text: string): Promise<R[]> {
  return (await t.pool.query(text.replaceAll('$schema', `"${t.schema}"`))).rows
}

describe('@pgq/core/metrics', () => {
  let worker: Worker

  it('counts a run of known outcomes exactly as the database records them', async () => {
    let flakyRuns = 0
    const ok = defineTask({ name: 'ok', handler: async () => 'fine' })
    const bad = defineTask({
      name: 'bad',
      handler: async () => {
        throw new PermanentError('no way')
      },
    })
    const flaky = defineTask({
      name: 'flaky',
      retry: { baseDelayMs: 10, jitter: 0 },
      handler: async () => {
        flakyRuns += 1
        if (flakyRuns === 1) throw new Error('first try fails')
        return 'second try works'
      },
    })
    worker = t.pgq.createWorker({ tasks: [ok, bad, flaky], pollIntervalMs: 50 })
    const detach = collectWorkerMetrics(worker, { registry })
    collectQueueMetrics(t.pgq, { registry, cacheMs: 0 })
    await t.pgq.enqueueMany([
      ...Array.from({ length: 5 }, () => ({ task: 'ok', payload: {} })),
      ...Array.from({ length: 2 }, () => ({ task: 'bad', payload: {} })),
      { task: 'flaky', payload: {} },
    ])
    await worker.start()
    // every outcome event has fired (they follow the database write)
    await waitFor(
      async () => value(await scrape(), 'pgq_jobs_completed_total') === 9,
      20_000,
      '9 outcomes counted',
    )
    const parsed = await scrape()
    const rows = await sql<{ task: string; state: string; jobs: number; attempts: number; errors: number }>(
      `SELECT task, state, count(*)::int AS jobs, sum(attempts)::int AS attempts,
         sum(jsonb_array_length(errors))::int AS errors
       FROM $schema.jobs GROUP BY task, state ORDER BY task, state`,
    )
    expect(rows).toEqual([
      { task: 'bad', state: 'failed', jobs: 2, attempts: 2, errors: 2 },
      { task: 'flaky', state: 'succeeded', jobs: 1, attempts: 2, errors: 1 },
      { task: 'ok', state: 'succeeded', jobs: 5, attempts: 5, errors: 0 },
    ])
    for (const row of rows) {
      const labels = { queue: 'default', task: row.task }
      // every attempt started once; every attempt ended in one written outcome
      expect(value(parsed, 'pgq_jobs_started_total', labels)).toBe(row.attempts)
      expect(value(parsed, 'pgq_job_wait_seconds', labels)).toBe(row.attempts)
      expect(value(parsed, 'pgq_job_run_seconds', labels)).toBe(row.attempts)
      expect(value(parsed, 'pgq_jobs_completed_total', { ...labels, outcome: row.state })).toBe(row.jobs)
      // a retried attempt left one error behind on a job that later succeeded
      const retried = row.state === 'succeeded' ? row.errors : 0
      expect(value(parsed, 'pgq_jobs_completed_total', { ...labels, outcome: 'retried' })).toBe(retried)
    }
    expect(value(parsed, 'pgq_jobs_completed_total', { outcome: 'cancelled' })).toBe(0)
    expect(value(parsed, 'pgq_jobs_running', { queue: 'default' })).toBe(0)
    expect(value(parsed, 'pgq_lease_lost_total')).toBe(0)
    // the histograms are histograms, each series with a +Inf bucket equal to its count
    expect(parsed.get('pgq_job_run_seconds')!.type).toBe('HISTOGRAM')
    const inf = parsed.get('pgq_job_run_seconds_bucket')!.metrics.filter((m) => m.labels?.le === '+Inf')
    expect(inf.length).toBe(4) // ok succeeded, bad failed, flaky retried, flaky succeeded
    for (const bucket of inf) {
      const { le: _le, ...labels } = bucket.labels!
      expect(bucket.value).toBe(String(value(parsed, 'pgq_job_run_seconds', labels)))
    }
    detach()
  })

  it('reads queue gauges that equal SQL counts, lag and live workers', async () => {
    await t.pgq.enqueueMany([
      ...Array.from({ length: 3 }, () => ({
        task: 'nobody_runs_this',
        payload: {},
        options: { queue: 'orphans' },
      })),
      ...Array.from({ length: 2 }, () => ({ task: 'ok', payload: {}, options: { delayMs: 3_600_000 } })),
    ])
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET run_at = now() - interval '90 seconds' WHERE queue = 'orphans'`,
    )
    const parsed = await scrape()
    const counts = await sql<{ queue: string; state: string; jobs: number }>(
      `SELECT queue, CASE WHEN state = 'available' AND run_at > now() THEN 'scheduled'
                          WHEN state = 'available' THEN 'waiting' ELSE state END AS state, count(*)::int AS jobs
       FROM $schema.jobs WHERE state IN ('available', 'running', 'failed') GROUP BY 1, 2`,
    )
    expect(counts).toContainEqual({ queue: 'orphans', state: 'waiting', jobs: 3 })
    for (const { queue, state, jobs } of counts)
      expect(value(parsed, 'pgq_queue_jobs', { queue, state }), `${queue} ${state}`).toBe(jobs)
    // a queue seen reports 0 for its empty states
    expect(parsed.get('pgq_queue_jobs')!.metrics).toContainEqual({
      labels: { queue: 'default', state: 'running' },
      value: '0',
    })
    const lag = value(parsed, 'pgq_queue_lag_seconds', { queue: 'orphans' })
    expect(lag).toBeGreaterThanOrEqual(90)
    expect(lag).toBeLessThan(120)
    expect(value(parsed, 'pgq_queue_lag_seconds', { queue: 'default' })).toBe(0)
    expect(value(parsed, 'pgq_workers_alive')).toBe(1)
    expect(value(parsed, 'pgq_queue_workers_alive', { queue: 'default' })).toBe(1)
    expect(value(parsed, 'pgq_queue_workers_alive', { queue: 'orphans' })).toBe(0)
    expect(value(parsed, 'pgq_database_up')).toBe(1)

    await worker.stop()
    const after = await scrape()
    expect(value(after, 'pgq_workers_alive')).toBe(0) // a stopped worker is not alive
    expect(value(after, 'pgq_queue_workers_alive', { queue: 'default' })).toBe(0)
  })

  it('counts a lost lease with its reason, and no outcome for it', async () => {
    let open: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const gated = defineTask({ name: 'gated', handler: () => gate })
    const own = new Registry()
    const w = t.pgq.createWorker({ tasks: [gated], leaseMs: 60_000, heartbeatMs: 50_000, pollIntervalMs: 50 })
    collectWorkerMetrics(w, { registry: own })
    const { id } = await t.pgq.enqueue('gated', {})
    await w.start()
    try {
      await waitFor(async () => (await own.getSingleMetricAsString('pgq_jobs_running')).includes(' 1'))
      await t.pool.query(`UPDATE "${t.schema}".jobs SET lease_token = gen_random_uuid() WHERE id = $1`, [id])
      open()
      await waitFor(async () => (await own.getSingleMetricAsString('pgq_lease_lost_total')).includes(' 1'))
      const text = await own.metrics()
      expect(text).toContain('pgq_lease_lost_total{queue="default",task="gated",reason="outcome-fenced"} 1')
      expect(text).toContain('pgq_jobs_running{queue="default"} 0')
      expect(text).not.toMatch(/pgq_jobs_completed_total\{/)
    } finally {
      await w.stop()
    }
  })

  it('reports pgq_database_up 0 and leaves the database gauges out when the database cannot be read', async () => {
    const { createPgq } = await import('../src/client/pgq.js')
    const down = createPgq({ connectionString: 'postgres://postgres@127.0.0.1:1/none', schema: t.schema })
    const own = new Registry()
    collectQueueMetrics(down, { registry: own })
    try {
      const text = await own.metrics()
      expect(text).toContain('pgq_database_up 0')
      expect(text).not.toMatch(/^pgq_queue_jobs\{/m)
      expect(text).toMatch(/^pgq_workers_alive Nan$/m) // unknown, not 0: a "no workers" alert stays quiet
      expect(text).not.toMatch(/^pgq_queue_lag_seconds\{/m)
    } finally {
      await down.close()
    }
  })

  it('refuses a second set of queue gauges on one registry, and a non-worker', () => {
    expect(() => collectQueueMetrics(t.pgq, { registry })).toThrow(/once per registry/)
    expect(() => collectWorkerMetrics({} as Worker, { registry })).toThrow(/must be a pgq worker/)
  })
})
