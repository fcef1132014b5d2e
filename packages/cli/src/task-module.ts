import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AnyTaskDefinition } from 'pgq'
import { CliExit, EXIT_CODES } from './lifetime.js'

/** What a tasks module exports that the worker uses. */
export interface TaskModule {
  readonly tasks: AnyTaskDefinition[]
  /** Every other export, for features that read more from the module (e.g. schedules). */
  readonly exports: Readonly<Record<string, unknown>>
}

function isTask(value: unknown): value is AnyTaskDefinition {
  const v = value as AnyTaskDefinition | undefined
  return typeof v?.name === 'string' && typeof v.handler === 'function' && typeof v.retryPolicy === 'object'
}

/**
 * Imports a module (JS, or TS under a TS loader such as `node --import tsx`) and collects the task
 * definitions it exports: each `defineTask()` result, also inside exported arrays or objects.
 */
export async function loadTaskModule(path: string): Promise<TaskModule> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new CliExit(EXIT_CODES.config, `cannot load the tasks module ${path}: ${message}`, { cause: error })
  }
  const tasks = new Map<string, AnyTaskDefinition>()
  const add = (value: unknown) => {
    if (isTask(value)) tasks.set(value.name, value)
  }
  for (const value of Object.values(mod)) {
    if (isTask(value)) add(value)
    else if (Array.isArray(value)) value.forEach(add)
    else if (value && typeof value === 'object') Object.values(value).forEach(add)
  }
  if (tasks.size === 0) {
    throw new CliExit(EXIT_CODES.config, `${path} exports no tasks (defineTask() results)`)
  }
  return { tasks: [...tasks.values()], exports: mod }
}
