import { Gauge, type Registry, register } from 'prom-client'
import type { Pgq } from '../client/pgq.js'
import { PgqValidationError } from '../errors.js'
import { type QueueGaugeRow, readQueueGauges } from '../sql/metrics-queries.js'
import { assertInt } from '../util/validate.js'

/**
 * Options of {@link collectQueueMetrics}.
 *
 * ```ts
 * collectQueueMetrics(pgq, { registry, cacheMs: 5_000 }) // one database reading per 5 s at most
 * ```
 */
export interface QueueMetricsOptions {
  /** Where the gauges are registered (default: prom-client's global `register`). */
  readonly registry?: Registry
  /** A reading is reused by scrapes within this many ms (default 1,000; 0: read every time). */
  readonly cacheMs?: number
}

const STATES = ['waiting', 'scheduled', 'running', 'failed'] as const

/**
 * Gauges read from the database when scraped: jobs per queue and state (`waiting`, `scheduled`,
 * `running`, `failed`), the lag of each queue (age of its oldest due job), and live workers, in
 * all and per queue. One statement over the rows the partial indexes cover; one reading serves
 * every scrape within `cacheMs`, so several scrapers do not multiply the load. A queue once seen
 * keeps reporting (0 when empty). When the database cannot be read, `pgq_database_up` is 0,
 * `pgq_workers_alive` is NaN and the labelled gauges are left out of that scrape. Returns a function that unregisters the gauges.
 *
 * ```ts
 * import { collectQueueMetrics, metricsHandler } from '@pgq/core/metrics'
 * import { Registry } from 'prom-client'
 *
 * const registry = new Registry()
 * collectQueueMetrics(pgq, { registry })
 * http.createServer(metricsHandler(registry)).listen(9464)
 * ```
 */
export function collectQueueMetrics(pgq: Pgq, options: QueueMetricsOptions = {}): () => void {
  if (typeof pgq?.pool?.query !== 'function' || !pgq.names)
    throw new PgqValidationError('pgq', 'must be a client from createPgq()', pgq)
  const registry = options.registry ?? register
  if (registry.getSingleMetric('pgq_queue_jobs'))
    throw new PgqValidationError(
      'registry',
      'already has the queue gauges: call collectQueueMetrics once per registry (one schema per registry)',
      'pgq_queue_jobs',
    )
  const cacheMs = assertInt(options.cacheMs ?? 1_000, 'cacheMs', 0, 3_600_000)
  const seen = new Set<string>()
  let cached: { at: number; reading: Promise<QueueGaugeRow[] | undefined> } | undefined
  const read = (): Promise<QueueGaugeRow[] | undefined> => {
    const now = Date.now()
    if (!cached || now - cached.at >= cacheMs) {
      cached = { at: now, reading: readQueueGauges(pgq.pool, pgq.names).catch(() => undefined) }
    }
    return cached.reading
  }
  const rowsOf = async (kind: QueueGaugeRow['kind']) => {
    const rows = await read()
    for (const row of rows ?? []) if (row.queue !== null) seen.add(row.queue)
    return rows?.filter((r) => r.kind === kind)
  }
  const perQueue = (gauge: Gauge<'queue'>, rows: QueueGaugeRow[]) => {
    gauge.reset()
    for (const queue of seen) gauge.set({ queue }, 0)
    for (const row of rows) if (row.queue !== null) gauge.set({ queue: row.queue }, row.value)
  }
  const gauges = [
    new Gauge({
      registers: [registry],
      name: 'pgq_queue_jobs',
      help: 'Jobs per queue and state: waiting (due now), scheduled (due later), running, failed.',
      labelNames: ['queue', 'state'],
      async collect() {
        const rows = await rowsOf('jobs')
        this.reset()
        if (!rows) return
        for (const queue of seen) for (const state of STATES) this.set({ queue, state }, 0)
        for (const row of rows)
          if (row.queue && row.state) this.set({ queue: row.queue, state: row.state }, row.value)
      },
    }),
    new Gauge({
      registers: [registry],
      name: 'pgq_queue_lag_seconds',
      help: 'Age of the oldest due job waiting in the queue (0 when none waits).',
      labelNames: ['queue'],
      async collect() {
        const rows = await rowsOf('lag')
        if (rows) perQueue(this, rows)
        else this.reset()
      },
    }),
    new Gauge({
      registers: [registry],
      name: 'pgq_queue_workers_alive',
      help: 'Live workers (fresh heartbeat, not stopped) that serve the queue.',
      labelNames: ['queue'],
      async collect() {
        const rows = await rowsOf('queue_workers')
        if (rows) perQueue(this, rows)
        else this.reset()
      },
    }),
    new Gauge({
      registers: [registry],
      name: 'pgq_workers_alive',
      help: 'Live workers of the schema (fresh heartbeat, not stopped), from the database.',
      async collect() {
        const rows = await rowsOf('workers')
        // a gauge without labels always has a value: unknown (NaN), not 0, when the database is away
        this.set(rows ? (rows[0]?.value ?? 0) : Number.NaN)
      },
    }),
    new Gauge({
      registers: [registry],
      name: 'pgq_database_up',
      help: '1 when the last reading of the queue gauges succeeded, 0 when the database could not be read.',
      async collect() {
        this.set((await read()) ? 1 : 0)
      },
    }),
  ]
  return () => {
    for (const gauge of gauges) registry.removeSingleMetric((gauge as unknown as { name: string }).name)
  }
}
