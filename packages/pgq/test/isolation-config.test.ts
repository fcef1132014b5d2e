import { describe, expect, it } from 'vitest'
import { PgqValidationError } from '../src/errors.js'
import { defineTask } from '../src/task/task.js'
import { resolveWorkerConfig } from '../src/worker/worker-config.js'

const handler = async () => null

describe('isolation options', () => {
  it('defineTask refuses an unknown mode, a relative module and a tiny memory cap', () => {
    expect(() => defineTask({ name: 'a', handler, isolation: 'fork' as never })).toThrow(
      /task.isolation: must be one of inline, thread, process/,
    )
    expect(() => defineTask({ name: 'a', handler, module: './tasks.js' })).toThrow(PgqValidationError)
    expect(() => defineTask({ name: 'a', handler, maxMemoryMb: 1 })).toThrow(/task.maxMemoryMb/)
  })

  it('a worker refuses a thread or process task whose module is unknown, naming the task', () => {
    const task = defineTask({ name: 'crunch', handler, isolation: 'thread' })
    expect(() => resolveWorkerConfig({ tasks: [task] })).toThrow(/task.crunch.module: isolation "thread"/)
    expect(() =>
      resolveWorkerConfig({ tasks: [defineTask({ name: 'b', handler })], isolation: { mode: 'process' } }),
    ).toThrow(/task.b.module/)
  })

  it('resolves each task: its own options first, then the worker defaults, then inline', () => {
    const own = defineTask({
      name: 'own',
      handler,
      isolation: 'process',
      module: import.meta.url,
      maxMemoryMb: 64,
    })
    const byDefault = defineTask({ name: 'dflt', handler })
    const config = resolveWorkerConfig({
      tasks: [own, byDefault],
      isolation: { mode: 'thread', module: '/srv/app/tasks.js', maxMemoryMb: 128 },
    })
    expect(config.isolation.placements.get('own')).toEqual({
      mode: 'process',
      module: import.meta.url,
      maxMemoryMb: 64,
    })
    expect(config.isolation.placements.get('dflt')).toEqual({
      mode: 'thread',
      module: 'file:///srv/app/tasks.js',
      maxMemoryMb: 128,
    })
    expect(resolveWorkerConfig({ tasks: [byDefault] }).isolation.placements.get('dflt')?.mode).toBe('inline')
    expect(() => resolveWorkerConfig({ tasks: [byDefault], isolation: { minIdel: 1 } as never })).toThrow(
      /worker.isolation.minIdel: unknown option/,
    )
  })
})
