// Idle and busy `pgq work` processes live through a server restart, pg_terminate_backend of every
// backend, a 60 s outage and a read-only period; every job committed before, during and after runs
// exactly once; the log stays quiet while the database is away. The scenarios run side by side,
// each on its own cluster, so the suite's length is the longest one (the outage).
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../../pgq/test/test-database.js'
import {
  createWorld,
  enqueueBatch,
  enqueueCommitted,
  expectExactlyOnce,
  runningJobs,
  runsOf,
  SCHEMA,
  type World,
  waitAllSucceeded,
} from './harness.js'
import { killAll, startWorker, stopGracefully, type WorkerProcess } from './processes.js'

const worlds: World[] = []
afterAll(async () => {
  await killAll()
  await Promise.all(worlds.map((w) => w.close()))
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Fault {
  readonly name: string
  /**
   * Breaks the database and mends it; resolves when it is mended. Adds to `inFlight` the jobs
   * claimed after the snapshot but before the fault took hold.
   */
  inject(world: World, inFlight: Set<string>): Promise<void>
  /** When set, the log rate of each worker is checked over the fault (at most ~2 lines/s). */
  readonly quietCheck: boolean
}

const faults: Fault[] = [
  {
    name: 'a server restart',
    quietCheck: false,
    async inject(world) {
      await world.cluster.stop()
      await world.cluster.start()
    },
  },
  {
    name: 'pg_terminate_backend of every backend, twice',
    quietCheck: false,
    async inject(world) {
      expect(await world.cluster.terminateAll('app')).toBeGreaterThan(0)
      await sleep(1000) // deliberate: let them reconnect, then cut them again
      await world.cluster.terminateAll('app')
    },
  },
  {
    name: 'a 60 s outage (server stopped)',
    quietCheck: true,
    async inject(world) {
      await world.cluster.stop()
      await sleep(60_000) // deliberate: the outage itself
      await world.cluster.start()
    },
  },
  {
    name: 'a 20 s read-only period (default_transaction_read_only)',
    quietCheck: true,
    async inject(world, inFlight) {
      await world.cluster.readOnly(true)
      // each session applies the reload at its next statement; once the claims fail, what runs is in flight
      await waitFor(
        async () => {
          try {
            await world.query('CREATE TEMP TABLE probe ()')
            return false
          } catch {
            return true
          }
        },
        10_000,
        'writes refused',
      )
      for (const id of await runningJobs(world)) inFlight.add(id)
      await sleep(20_000) // deliberate: the read-only period itself
      await world.cluster.readOnly(false)
    },
  },
]

describe.concurrent('pgq work survives', () => {
  for (const fault of faults) {
    it(fault.name, async () => {
      const world = await createWorld()
      worlds.push(world)
      const busy: WorkerProcess[] = []
      for (const n of [1, 2]) busy.push(await startWorker(`busy${n}`, ['-Q', 'busy=5'], world.env))
      const idle = await startWorker('idle', ['-Q', 'idle=5'], world.env)
      const workers = [...busy, idle]

      const before = await enqueueBatch(world, 'busy', 100, { ms: 300 })
      // the fault hits while the busy workers are in the middle of the batch
      await waitForSomeRunning(world)
      const inFlight = await runningJobs(world)
      const faultStart = Date.now()
      const mending = fault.inject(world, inFlight)
      // enqueued while the fault lasts: each commits as soon as the database takes writes again
      const during = enqueueCommitted(world, 'busy', 20, { ms: 10 })
      await mending
      const faultEnd = Date.now()
      const after = [
        ...(await during),
        ...(await enqueueCommitted(world, 'busy', 50, { ms: 10 })),
        ...(await enqueueCommitted(world, 'idle', 20, { ms: 10 })),
      ]
      const all = [...before, ...after]
      await waitAllSucceeded(world, all, 240_000, () => workers.map((w) => w.output()).join('\n'))

      for (const w of workers) expect(w.exit(), `${w.name} still running\n${w.output()}`).toBeUndefined()
      // a job may run twice only if its run was cut off: caught running before the fault, or
      // rescued after its lease expired while its worker could not reach the database
      const interrupted = await world.query<{ id: string }>(
        `SELECT id::text AS id FROM ${SCHEMA}.jobs WHERE id = ANY($1::bigint[]) AND interruptions > 0`,
        [all],
      )
      for (const { id } of interrupted) inFlight.add(id)
      const twice = [...(await runsOf(world, all))].filter(([, n]) => n === 2).length
      console.log(`${fault.name}: ${inFlight.size} jobs in flight, ${twice} of them ran twice`)
      await expectExactlyOnce(world, all, inFlight).catch((error: Error) => {
        throw new Error(`${error.message}\n${workers.map((w) => w.output()).join('\n')}`)
      })
      if (fault.quietCheck) {
        const seconds = (faultEnd - faultStart) / 1000
        for (const w of workers) {
          const lines = w.linesBetween(faultStart, faultEnd)
          expect(
            lines.length,
            `${w.name} logged ${lines.length} lines in ${seconds.toFixed(0)} s:\n${lines.map((l) => l.text).join('\n')}`,
          ).toBeLessThanOrEqual(Math.ceil(seconds * 2) + 5)
        }
      }
      for (const w of workers) expect(await stopGracefully(w), w.output()).toBe(0)
    })
  }
})

async function waitForSomeRunning(world: World): Promise<void> {
  await waitFor(async () => (await runningJobs(world)).size > 0, 30_000, 'a busy job running')
}
