// Child process of the worker-memory measurement: runs one system's worker over jobs the parent
// queued, samples its own RSS, and reports to the parent over IPC. Run only by rss.ts (fork).
import { createSystem, type SystemName } from './systems/index.js'
import type { BenchEnv, WorkerProfile } from './types.js'

/** What the parent passes as argv[2] (JSON). */
export interface RssChildArgs {
  readonly system: SystemName
  readonly env: BenchEnv
  readonly jobs: number
  readonly profile: WorkerProfile
  readonly sampleMs: number
}

/** One RSS sample: when (ms since the worker started), how much, and how many jobs were done. */
export interface RssSample {
  readonly atMs: number
  readonly rssBytes: number
  readonly done: number
}

/** The child's report. */
export interface RssChildResult {
  readonly samples: RssSample[]
  readonly elapsedMs: number
  readonly done: number
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as RssChildArgs
  const system = await createSystem(args.system, args.env)
  const samples: RssSample[] = []
  let done = 0
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const start = performance.now()
  const sample = () =>
    samples.push({ atMs: performance.now() - start, rssBytes: process.memoryUsage.rss(), done })
  const timer = setInterval(sample, args.sampleMs)
  const worker = await system.startWorker({
    profile: args.profile,
    concurrency: 50,
    handler: () => {
      done++
      if (done === args.jobs) finish()
    },
  })
  await finished
  const elapsedMs = performance.now() - start
  sample()
  clearInterval(timer)
  await worker.stop()
  await system.close().catch(() => {})
  const result: RssChildResult = { samples, elapsedMs, done }
  process.send?.(result, () => process.exit(0))
}

main().catch((error: unknown) => {
  process.stderr.write(
    `rss-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
