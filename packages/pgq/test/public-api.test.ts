// The public entry stays small and the internal entry holds what the CLI builds on; one way to
// construct the client; options are checked the one way (validate.ts) on every entry point.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as pgq from '../src/index.js'
import * as internal from '../src/internal.js'
import * as metrics from '../src/metrics.js'
import { assertInt, assertNumber, assertOptions, optionKeys } from '../src/util/validate.js'
import { createTestSchema, type TestSchema } from './test-database.js'
import { seedJobs } from './worker-simulation.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

describe("the public entry ('@pgq/core')", () => {
  it('exports the client factory, tasks, schedules and errors at run time, and nothing else', () => {
    expect(Object.keys(pgq).sort()).toEqual([
      'AttemptEndedError',
      'HandlerCrashedError',
      'HardTimeLimitError',
      'JobAbortedError',
      'JobCancelledError',
      'JobExpiredError',
      'JobFailedError',
      'JobNotFoundError',
      'JobTimeoutError',
      'JobTransactionError',
      'MAX_JSON_DEPTH',
      'PINO_LEVELS',
      'PermanentError',
      'PgqError',
      'PgqMigrationError',
      'PgqScheduleNotFoundError',
      'PgqSchemaVersionError',
      'PgqUnknownTaskError',
      'PgqValidationError',
      'SleepInterrupt',
      'StepError',
      'TaskRegistry',
      'WorkerList',
      'WorkflowRetryRefusedError',
      'chain',
      'chord',
      'chordSettled',
      'createJsonLogger',
      'createLineLogger',
      'createPgq',
      'defineSchedule',
      'defineTask',
      'fromPino',
      'group',
      'job',
      'jobSpec',
      'snooze',
      'step',
    ])
  })

  it('has no constructor of the client: createPgq is the one way', () => {
    expect('Pgq' in pgq).toBe(false)
    expect(pgq.createPgq({ pool: t.pool, schema: t.schema })).toBeInstanceOf(internal.Pgq)
  })

  it('leaves the internals to the internal entry, with no name in both', () => {
    for (const name of ['Pruner', 'ScheduleEnqueuer', 'planFires', 'renderMigration', 'ON_TIME_GRACE_MS']) {
      expect(name in internal, name).toBe(true)
      expect(name in pgq, name).toBe(false)
    }
    expect(Object.keys(internal).filter((name) => name in pgq)).toEqual([])
  })
})

describe("the metrics entry ('@pgq/core/metrics')", () => {
  it('exports the collectors and the handler, and is the only module that imports prom-client', async () => {
    expect(Object.keys(metrics).sort()).toEqual([
      'RUN_SECONDS_BUCKETS',
      'WAIT_SECONDS_BUCKETS',
      'collectQueueMetrics',
      'collectWorkerMetrics',
      'metricsHandler',
    ])
    const { readdirSync, readFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const src = join(import.meta.dirname, '..', 'src')
    const importers = (readdirSync(src, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && /from 'prom-client'/.test(readFileSync(join(src, f), 'utf8')))
      .map((f) => f.split('/')[0])
    expect(new Set(importers)).toEqual(new Set(['observe'])) // reached only through src/metrics.ts
    expect(readFileSync(join(src, 'index.ts'), 'utf8')).not.toMatch(/observe\//)
    expect(readFileSync(join(src, 'internal.ts'), 'utf8')).not.toMatch(/observe\//)
  })
})

describe('client options', () => {
  it('rejects an unknown option and out-of-range numbers with the path of the bad value', () => {
    const cases: [object, RegExp][] = [
      [{ pool: t.pool, poolsize: 3 }, /^poolsize: unknown option; known: pool, connectionString, poolSize/],
      [{ pool: t.pool, resultPollIntervalMs: 0 }, /^resultPollIntervalMs: must be an integer from 1/],
      [{ pool: t.pool, maxPayloadBytes: 1.5 }, /^maxPayloadBytes: must be an integer from 2 to 67108864/],
    ]
    for (const [options, message] of cases) {
      expect(() => pgq.createPgq(options as pgq.PgqOptions)).toThrow(pgq.PgqValidationError)
      expect(() => pgq.createPgq(options as pgq.PgqOptions)).toThrow(message)
    }
  })

  it('pgq.prune() deletes the finished jobs past retention and nothing else, and validates batchSize', async () => {
    const due = await seedJobs(t, 7)
    const kept = await seedJobs(t, 3)
    await t.pool.query(
      `UPDATE "${t.schema}".jobs SET state = 'succeeded', finished_at = now(),
         delete_after = now() + CASE WHEN id = ANY($1::bigint[]) THEN interval '-1 second' ELSE interval '1 hour' END`,
      [due],
    )
    await expect(t.pgq.prune({ batchSize: 0 })).rejects.toThrow(/batchSize: must be an integer from 1/)
    expect(await t.pgq.prune({ batchSize: 2 })).toBe(7)
    const { rows } = await t.pool.query(`SELECT id::text FROM "${t.schema}".jobs ORDER BY jobs.id`)
    expect(rows.map((r) => r.id)).toEqual(kept)
  })
})

describe('validate.ts', () => {
  interface Sample {
    readonly a: number
    readonly b?: string
  }
  const KNOWN = optionKeys<Sample>({ a: true, b: true })

  it('accepts known keys and rejects unknown ones and non-objects, naming the path', () => {
    expect(() => assertOptions({ a: 1, b: 'x' }, KNOWN, 'sample.')).not.toThrow()
    expect(() => assertOptions({ a: 1, c: 2 }, KNOWN, 'sample.')).toThrow(
      /^sample\.c: unknown option; known: a, b$/,
    )
    expect(() => assertOptions(null, KNOWN, 'sample.')).toThrow(/^sample: must be an object/)
    expect(() => assertOptions([1], KNOWN)).toThrow(/^options: must be an object/)
  })

  it('checks integers against their bounds', () => {
    expect(assertInt(5, 'n', 1, 5)).toBe(5)
    for (const bad of [0, 6, 2.5, '3', Number.NaN, undefined]) {
      expect(() => assertInt(bad, 'n', 1, 5)).toThrow(pgq.PgqValidationError)
    }
    expect(() => assertInt(0, 'n', 1, 5)).toThrow(/^n: must be an integer from 1 to 5$/)
    expect(() => assertInt(0, 'n', 1, 5, 'must be an integer number of ms ≥ 1')).toThrow(
      /^n: must be an integer number of ms ≥ 1$/,
    )
  })

  it('checks finite numbers against their bounds, saying the bounds or the given rule', () => {
    expect(assertNumber(0.5, 'x', 0, 1)).toBe(0.5)
    expect(assertNumber(1e12, 'x', 0)).toBe(1e12)
    for (const bad of [-0.1, 1.1, '0.5', Number.NaN, undefined]) {
      expect(() => assertNumber(bad, 'x', 0, 1)).toThrow(/^x: must be a number from 0 to 1$/)
    }
    expect(() => assertNumber(Number.POSITIVE_INFINITY, 'x', 0)).toThrow(/^x: must be a number ≥ 0$/)
    expect(() => assertNumber(-1, 'x', 0, Number.POSITIVE_INFINITY, 'must be a finite number ≥ 0')).toThrow(
      /^x: must be a finite number ≥ 0$/,
    )
  })
})
