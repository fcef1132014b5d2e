// Each page's data, read and rendered: the GET side of the dashboard. Reads go through pgq's API
// where it has one (jobs.get, schedules.list/preview, WorkerList) and through sql/ otherwise.
import { WorkerList } from '@pgq/core'
import type { DashboardConfig } from './config.js'
import type { Html } from './http/html.js'
import { type JobsFilter, toSearch } from './jobs-filter.js'
import { jobDetailPage } from './pages/job-detail.js'
import { jobsPage } from './pages/jobs.js'
import type { PageContext } from './pages/layout.js'
import { overviewPage } from './pages/overview.js'
import { type ScheduleView, schedulesPage } from './pages/schedules.js'
import { workersPage } from './pages/workers.js'
import { workflowPage } from './pages/workflow.js'
import {
  finishedPerMinute,
  type JobLiveRow,
  jobsLive,
  type MinuteRow,
  type QueueCountsRow,
  queueCounts,
} from './sql/dashboard-queries.js'
import { searchJobs } from './sql/job-search-queries.js'

/** The workers page lists workers gone within this long. */
const GONE_WITHIN_MS = 3_600_000

/** Jobs per page of the jobs list. */
export const PAGE_SIZE = 50
/** How long the last hour's chart data is reused, in ms (it scans the finished jobs). */
export const CHART_CACHE_MS = 10_000

/** Reads and renders the pages of one dashboard. */
export class Views {
  readonly #config: DashboardConfig
  readonly #workers: WorkerList
  #chart: { at: number; rows: Promise<MinuteRow[]> } | undefined

  constructor(config: DashboardConfig) {
    this.#config = config
    this.#workers = new WorkerList({ pool: config.pgq.pool, schema: config.pgq.config.schema })
  }

  get #db() {
    return this.#config.pgq.pool
  }

  get #names() {
    return this.#config.pgq.names
  }

  async overview(ctx: PageContext): Promise<Html> {
    const [queues, minutes] = await Promise.all([queueCounts(this.#db, this.#names), this.#minutes()])
    return overviewPage(ctx, queues, minutes)
  }

  async jobs(ctx: PageContext, filter: JobsFilter): Promise<Html> {
    const [page, queues] = await Promise.all([
      searchJobs(this.#db, this.#names, toSearch(filter, PAGE_SIZE)),
      queueCounts(this.#db, this.#names),
    ])
    const names = queues.map((q) => q.queue)
    if (filter.queue && !names.includes(filter.queue)) names.push(filter.queue)
    return jobsPage(ctx, filter, page, names)
  }

  /** The job's page, or undefined when there is no such job. */
  async job(ctx: PageContext, id: string): Promise<Html | undefined> {
    const job = await this.#config.pgq.jobs.get(id)
    if (!job) return undefined
    const worker = job.lockedBy
      ? (await this.#workers.list({ goneWithinMs: GONE_WITHIN_MS })).find((w) => w.id === job.lockedBy)
      : undefined
    return jobDetailPage(ctx, job, worker)
  }

  /** The workflow's page, or undefined when there is no such workflow. */
  async workflow(ctx: PageContext, id: string): Promise<Html | undefined> {
    const wf = await this.#config.pgq.workflows.get(id)
    return wf && workflowPage(ctx, wf)
  }

  async schedules(ctx: PageContext): Promise<Html> {
    const schedules = this.#config.pgq.schedules
    const list = await schedules.list()
    const views = await Promise.all(
      list.map(async (info): Promise<ScheduleView> => {
        if (info.paused) return { info, next: [], previewError: null }
        try {
          return { info, next: await schedules.preview(info.name, 5), previewError: null }
        } catch (error) {
          return { info, next: [], previewError: error instanceof Error ? error.message : String(error) }
        }
      }),
    )
    return schedulesPage(ctx, views)
  }

  async workers(ctx: PageContext): Promise<Html> {
    const workers = await this.#workers.list({ goneWithinMs: GONE_WITHIN_MS })
    return workersPage(
      ctx,
      workers.filter((w) => w.status === 'alive'),
      workers.filter((w) => w.status !== 'alive'),
    )
  }

  /** What the poll fallback returns: the counts, and the watched job's state and progress. */
  async live(job: string | null): Promise<{ queues: QueueCountsRow[]; job: JobLiveRow | null }> {
    const [queues, jobs] = await Promise.all([
      queueCounts(this.#db, this.#names),
      job ? jobsLive(this.#db, this.#names, [job]) : Promise.resolve([]),
    ])
    return { queues, job: jobs[0] ?? null }
  }

  #minutes(): Promise<MinuteRow[]> {
    const now = Date.now()
    if (!this.#chart || now - this.#chart.at > CHART_CACHE_MS) {
      const rows = finishedPerMinute(this.#db, this.#names, 60)
      this.#chart = { at: now, rows }
      rows.catch(() => {
        if (this.#chart?.rows === rows) this.#chart = undefined
      })
    }
    return this.#chart.rows
  }
}
