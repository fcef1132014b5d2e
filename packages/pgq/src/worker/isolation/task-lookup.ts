import { PgqError } from '../../errors.js'
import type { AnyTaskDefinition } from '../../task/task.js'

function isTask(value: unknown): value is AnyTaskDefinition {
  const v = value as AnyTaskDefinition | undefined
  return typeof v?.name === 'string' && typeof v.handler === 'function'
}

/**
 * @internal Finds the task named `name` among a module's exports: an exported `defineTask()`
 * result, or one inside an exported array or object (the shapes `pgq work --tasks` accepts).
 * Throws a `PgqError` (`PGQ_TASK_NOT_IN_MODULE`) when the module does not export it.
 */
export function findTask(exports: Record<string, unknown>, name: string, module: string): AnyTaskDefinition {
  for (const value of Object.values(exports)) {
    const candidates = isTask(value)
      ? [value]
      : Array.isArray(value)
        ? value
        : value && typeof value === 'object'
          ? Object.values(value)
          : []
    for (const candidate of candidates) if (isTask(candidate) && candidate.name === name) return candidate
  }
  throw new PgqError(
    'PGQ_TASK_NOT_IN_MODULE',
    `task "${name}" is not exported by ${module}: an isolated task's module must export its defineTask() result`,
    { task: name, module },
  )
}
