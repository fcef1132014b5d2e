import { fork } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fill } from './measure.js'
import type { RssChildArgs, RssChildResult } from './rss-child.js'
import type { SystemName } from './systems/index.js'
import type { BenchEnv, BenchSystem, WorkerProfile } from './types.js'

/** Worker memory over a long run, measured in a child process. */
export interface RssResult {
  readonly jobs: number
  readonly jobsPerSecond: number
  readonly peakMb: number
  /** Peak RSS while the first 10–30 % of the jobs ran (after warm-up). */
  readonly warmMb: number
  /** Peak RSS while the last 30 % of the jobs ran. */
  readonly lateMb: number
  /** Late ≤ warm × 1.1 + 5 MB. */
  readonly flat: boolean
  readonly samples: number
}

const MB = 1024 * 1024

/** Queues `jobs` jobs, then forks `rss-child.js` to work through them and sample its RSS. */
export async function measureWorkerRss(
  system: BenchSystem,
  env: BenchEnv,
  jobs: number,
  profile: WorkerProfile,
  timeoutMs: number,
): Promise<RssResult> {
  await system.reset()
  await fill(system, jobs)
  const here = dirname(fileURLToPath(import.meta.url))
  const args: RssChildArgs = { system: system.name as SystemName, env, jobs, profile, sampleMs: 50 }
  const child = fork(join(here, 'rss-child.js'), [JSON.stringify(args)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const result = await new Promise<RssChildResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`worker did not finish ${jobs} jobs within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('message', (message) => {
      clearTimeout(timer)
      resolve(message as RssChildResult)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`worker child exited with code ${code} before reporting`))
    })
  })
  const inRange = (lo: number, hi: number) =>
    result.samples.filter((s) => s.done >= jobs * lo && s.done <= jobs * hi).map((s) => s.rssBytes)
  const peak = Math.max(...result.samples.map((s) => s.rssBytes))
  // A fast run may have no sample inside the window: then the first one after 10 % stands in.
  const warmWindow = inRange(0.1, 0.3)
  const firstWarm = result.samples.find((s) => s.done >= jobs * 0.1)?.rssBytes ?? 0
  const warm = Math.max(...(warmWindow.length ? warmWindow : [firstWarm]))
  const late = Math.max(...inRange(0.7, 1), 0)
  return {
    jobs,
    jobsPerSecond: jobs / (result.elapsedMs / 1000),
    peakMb: peak / MB,
    warmMb: warm / MB,
    lateMb: late / MB,
    flat: warm > 0 && late <= warm * 1.1 + 5 * MB,
    samples: result.samples.length,
  }
}
