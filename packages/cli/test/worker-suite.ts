// The set-up most worker-process test files share: an isolated schema with the side-effect tables,
// `pgq work` processes started with that schema and killed after each test, and a reset of the
// tables each test used.
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { createSideEffectTables, startWorkerProcess, type WorkerProcess } from './worker-process.js'

/** What {@link useWorkerSuite} gives a test file. */
export interface WorkerSuite {
  /** The file's schema (set once `beforeAll` ran). */
  readonly t: TestSchema
  /** `DATABASE_URL` and `PGQ_SCHEMA` of the file's schema. */
  readonly env: Record<string, string>
  /** Starts `pgq work --schema <schema> --log-level warn …args`; killed (SIGKILL) after the test. */
  worker(
    args: string[],
    extraEnv?: Record<string, string>,
    options?: { waitReady?: boolean; tasks?: string },
  ): Promise<WorkerProcess>
}

/**
 * Registers the hooks of a worker-process test file. `reset` lists the SQL statements run after
 * each test, once its workers are dead (`<schema>` stands for the quoted schema).
 *
 * ```ts
 * const suite = useWorkerSuite(['TRUNCATE <schema>.jobs, <schema>.runs, <schema>.completions'])
 * it('runs', async () => { await suite.worker(['--concurrency', '5']) })
 * ```
 */
export function useWorkerSuite(reset: readonly string[]): WorkerSuite {
  let schema: TestSchema | undefined
  const processes: WorkerProcess[] = []
  const suite: WorkerSuite = {
    get t() {
      if (!schema) throw new Error('the worker suite is used before its beforeAll ran')
      return schema
    },
    get env() {
      return { DATABASE_URL: suite.t.url, PGQ_SCHEMA: suite.t.schema }
    },
    async worker(args, extraEnv = {}, options = {}) {
      const p = await startWorkerProcess(
        ['--schema', suite.t.schema, '--log-level', 'warn', ...args],
        { ...suite.env, ...extraEnv },
        options,
      )
      processes.push(p)
      return p
    },
  }
  beforeAll(async () => {
    schema = await createTestSchema()
    await createSideEffectTables(schema)
  })
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      p.kill('SIGKILL')
      await p.exited
    }
    for (const sql of reset) await suite.t.pool.query(sql.replaceAll('<schema>', `"${suite.t.schema}"`))
  })
  afterAll(async () => {
    await schema?.drop()
  })
  return suite
}
