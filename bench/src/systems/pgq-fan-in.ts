// pgq's workflow row: a group of N members with a chord callback, created in one call and run to the
// callback's end, beside N plain jobs enqueued in one call and run to the last one's end, on the same
// worker settings (the `best` profile). pgq only: the peers' flows are not adapted here.
import { chord, createPgq, defineTask, group, job } from '@pgq/core'
import { ident } from '../sql-names.js'

/** Options of {@link measurePgqFanIn}. */
export interface FanInOptions {
  readonly databaseUrl: string
  readonly schema: string
  /** Members of the group (chord), or plain jobs (plain). */
  readonly count: number
  readonly shape: 'chord' | 'plain'
  readonly timeoutMs: number
}

/** One run: jobs/s over the whole run (creation included), and how long the creating call took. */
export interface FanInResult {
  readonly jobsPerSecond: number
  readonly createMs: number
}

/**
 * Starts an idle worker (`queues: { default: 200 }`), then times: the create call (one
 * `pgq.workflows.create` of the chord, or one `enqueueMany` of the plain jobs) → the end of the
 * callback's handler (chord: it starts only once every member's outcome is written) or of the
 * last plain job's handler. Rejects when the run does not finish within `timeoutMs`.
 */
export async function measurePgqFanIn(options: FanInOptions): Promise<FanInResult> {
  const { count, shape } = options
  const client = createPgq({ connectionString: options.databaseUrl, schema: options.schema })
  const s = ident(options.schema)
  await client.pool.query(`TRUNCATE ${s}.jobs, ${s}.workflows, ${s}.workflow_nodes, ${s}.job_dependencies`)
  let done = 0
  let finish: (at: number) => void = () => {}
  const finished = new Promise<number>((resolve) => {
    finish = resolve
  })
  const member = defineTask<{ i: number }, number>({
    name: 'bench_member',
    handler: async ({ i }) => {
      done++
      if (shape === 'plain' && done === count) finish(performance.now())
      return i
    },
  })
  const callback = defineTask<number[], number>({
    name: 'bench_callback',
    handler: async (results) => {
      if (results.length !== count) throw new Error(`callback got ${results.length} of ${count} results`)
      finish(performance.now())
      return results.length
    },
  })
  const worker = client.createWorker({ tasks: [member, callback], queues: { default: 200 } })
  await worker.start()
  let timer: NodeJS.Timeout | undefined
  try {
    const payloads = Array.from({ length: count }, (_, i) => ({ i }))
    const start = performance.now()
    if (shape === 'chord') {
      await client.workflows.create(chord(group(...payloads.map((p) => job(member, p))), callback))
    } else {
      await client.enqueueMany(payloads.map((payload) => ({ task: member, payload })))
    }
    const createMs = performance.now() - start
    const end = await Promise.race([
      finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${shape}: ${done} of ${count} jobs done after ${options.timeoutMs} ms`)),
          options.timeoutMs,
        )
      }),
    ])
    return { jobsPerSecond: count / ((end - start) / 1000), createMs }
  } finally {
    clearTimeout(timer)
    await worker.stop()
    await client.close()
  }
}
