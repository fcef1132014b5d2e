// The demo's live log: one line per event, with the time since the tour began and who speaks
// (the HTTP client, the worker, the scheduler). Never payloads: only ids, names, states, timings.
import type { JobInfo, Worker } from '@pgq/core'

/** Who a line is from. */
export type Speaker = 'http' | 'worker' | 'sched' | 'db'

/** Writes the tour's lines to `write` (stdout by default). */
export class TourLog {
  readonly #write: (line: string) => void
  #started = performance.now()

  constructor(write: (line: string) => void = (line) => process.stdout.write(line)) {
    this.#write = write
  }

  /** Restarts the clock (the tour's time 0). */
  startClock(): void {
    this.#started = performance.now()
  }

  /** A plain line (headings, summaries). */
  say(text = ''): void {
    this.#write(`${text}\n`)
  }

  /** A timestamped event line. */
  event(speaker: Speaker, text: string): void {
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(2).padStart(6)
    this.#write(`  ${seconds}s  ${speaker.padEnd(6)} ${text}\n`)
  }
}

function label(job: JobInfo): string {
  return `job ${job.id} ${job.task}`
}

/** Logs a worker's job events (start, success, retry, failure) as tour lines. */
export function logWorkerEvents(worker: Worker, log: TourLog, scheduledTasks: ReadonlySet<string>): void {
  worker.on('job:start', ({ job }) => {
    if (scheduledTasks.has(job.task) && job.attempt === 1) log.event('sched', `schedule fired: ${label(job)}`)
    log.event(
      'worker',
      `▶ ${label(job)} started (queue ${job.queue}, attempt ${job.attempt}/${job.maxAttempts})`,
    )
  })
  worker.on('job:succeeded', ({ job, durationMs }) =>
    log.event('worker', `✓ ${label(job)} succeeded in ${Math.round(durationMs)} ms (attempt ${job.attempt})`),
  )
  worker.on('job:retry', ({ job, error, delayMs }) =>
    log.event(
      'worker',
      `↻ ${label(job)} failed on attempt ${job.attempt}/${job.maxAttempts}: ${error.message}; retry in ${(delayMs / 1000).toFixed(1)} s`,
    ),
  )
  worker.on('job:failed', ({ job, error }) =>
    log.event('worker', `✗ ${label(job)} failed for good: ${error.message}`),
  )
}
