// Logging that fits a JSON pipeline: createJsonLogger's lines (pino's format), a real pino logger
// given to a worker as it is, and fromPino for other (fields, message) loggers.
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createJsonLogger,
  createPgq,
  defineTask,
  fromPino,
  type LogFields,
  PINO_LEVELS,
} from '../src/index.js'
import { createTestSchema, type TestSchema, waitFor } from './test-database.js'

let t: TestSchema
beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>)

describe('createJsonLogger', () => {
  it('writes one JSON object per line in pino format, from the level up', () => {
    const lines: string[] = []
    const logger = createJsonLogger('info', (l) => lines.push(l))
    logger.debug('hidden')
    logger.info('job succeeded', { job: '42', task: 'send_email', ms: 12, skipped: undefined })
    logger.error('job failed', { job: '43', error: 'boom', msg: 'a field named msg', level: 'x' })
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true)
    const [ok, failed] = parse(lines)
    expect(lines).toHaveLength(2)
    expect(ok).toMatchObject({
      level: 30,
      pid: process.pid,
      name: 'pgq',
      msg: 'job succeeded',
      job: '42',
      ms: 12,
    })
    expect(typeof ok!.time).toBe('number')
    expect(typeof ok!.hostname).toBe('string')
    expect(ok).not.toHaveProperty('skipped')
    // fields never overwrite the line's own keys
    expect(failed).toMatchObject({
      level: PINO_LEVELS.error,
      msg: 'job failed',
      field_msg: 'a field named msg',
    })
    expect(failed!.field_level).toBe('x')
  })
})

describe('a pino logger', () => {
  it('is accepted by a worker as it is: the fields become properties of its JSON', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean))
        done()
      },
    })
    const logger = pino({ level: 'debug' }, stream)
    const pgq = createPgq({ pool: t.pool, schema: t.schema })
    const noop = defineTask({ name: 'noop', queue: 'logs', handler: async () => 'ok' })
    const worker = pgq.createWorker({ tasks: [noop], logger })
    await worker.start()
    await worker.stop()
    await waitFor(() => lines.some((l) => l.includes('worker stopped')), 5_000, 'the stop line')
    const started = parse(lines).find((l) => l.msg === 'worker started')
    expect(started).toMatchObject({ level: 30, worker: worker.id, queues: 'logs' })
  })

  it('fromPino adapts any (fields, message) logger', () => {
    const calls: [string, object, string][] = []
    const record = (level: string) => (fields: object, message: string) =>
      calls.push([level, fields, message])
    const logger = fromPino({
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    })
    const fields: LogFields = { job: '1' }
    logger.warn('lease lost', fields)
    logger.info('no fields')
    expect(calls).toEqual([
      ['warn', { job: '1' }, 'lease lost'],
      ['info', {}, 'no fields'],
    ])
  })
})
