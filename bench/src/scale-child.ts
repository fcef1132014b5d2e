// Child process of the multi-process measurement: sets up one system's adapter, says "ready", starts
// its worker on "go" and counts the jobs it ran until "stop", then reports the count and its CPU
// time from "go" to "stop". Run only by scale.ts (fork; hosts.ts: inside a network namespace).
import { createSystem, type SystemName } from './systems/index.js'
import type { BenchEnv, RunningWorker, WorkerProfile } from './types.js'

/** What the parent passes as argv[2] (JSON). */
export interface ScaleChildArgs {
  readonly system: SystemName
  readonly env: BenchEnv
  readonly profile: WorkerProfile
  /** Count the `pg` queries the worker sends from "go" to "stop" (hosts.ts; `pnpm bench` does not). */
  readonly countQueries?: boolean
}

/** Messages between parent and child. */
export type ScaleMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly count: number; readonly cpuMs: number; readonly queries?: number }

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ScaleChildArgs
  const counter = args.countQueries ? await import('./profile.js') : undefined
  counter?.countQueries()
  let q0 = 0
  const system = await createSystem(args.system, args.env)
  let count = 0
  let worker: RunningWorker | undefined
  let cpu0: NodeJS.CpuUsage | undefined
  // the parent died without stopping us (it kills us otherwise): don't linger as an orphan
  process.on('disconnect', () => process.exit(1))
  process.on('message', async (message: { kind: 'go' | 'stop' }) => {
    if (message.kind === 'go') {
      cpu0 = process.cpuUsage()
      q0 = counter?.queriesSent() ?? 0
      worker = await system.startWorker({
        profile: args.profile,
        concurrency: 10,
        handler: () => {
          count++
        },
      })
    } else {
      const cpu = process.cpuUsage(cpu0)
      const queries = counter ? counter.queriesSent() - q0 : undefined
      await worker?.stop()
      await system.close().catch(() => {})
      const done: ScaleMessage = {
        kind: 'done',
        count,
        cpuMs: (cpu.user + cpu.system) / 1000,
        ...(queries === undefined ? {} : { queries }),
      }
      process.send?.(done, () => process.exit(0))
    }
  })
  const ready: ScaleMessage = { kind: 'ready' }
  process.send?.(ready)
}

main().catch((error: unknown) => {
  process.stderr.write(
    `scale-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
