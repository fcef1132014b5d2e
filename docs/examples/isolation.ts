// Samples of docs/workers.md, "Where handlers run".
import { createPgq, defineTask } from '@pgq/core'

declare function renderPdf(html: string, signal: AbortSignal): Promise<Uint8Array>
declare function upload(bytes: Uint8Array): Promise<string>

// #region isolated-task
// tasks.ts — a module that only defines tasks: the worker's threads/processes import it.
export const renderInvoice = defineTask({
  name: 'render_invoice',
  isolation: 'process', // or 'thread'; default 'inline' (the worker's event loop)
  module: import.meta.url, // where a thread or process finds this task
  maxMemoryMb: 512, // the process is killed past it; only this attempt fails
  timeoutMs: 30_000, // soft limit: ctx.signal aborts
  hardTimeoutGraceMs: 5_000, // hard limit 5 s later: SIGKILL, the attempt fails, the retry runs
  async handler(payload: { html: string }, ctx) {
    const pdf = await renderPdf(payload.html, ctx.signal)
    await ctx.progress(90)
    return { url: await upload(pdf) }
  },
})
// #endregion isolated-task

export async function workerDefaults() {
  const pgq = createPgq({ connectionString: process.env.DATABASE_URL })
  // #region worker-isolation
  const worker = pgq.createWorker({
    tasks: [renderInvoice],
    queues: { invoices: 4 }, // at most 4 processes run at once
    isolation: {
      mode: 'thread', // tasks without their own `isolation` run in threads
      module: new URL('./tasks.js', import.meta.url).href, // for tasks without their own `module`
      minIdle: 2, // 2 processes/threads per pool started with the worker, kept warm
      idleTimeoutMs: 60_000, // more than minIdle idle for 60 s: stopped
    },
  })
  // #endregion worker-isolation
  await worker.start()
}
