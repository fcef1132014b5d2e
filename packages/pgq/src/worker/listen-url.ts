import type pg from 'pg'

/**
 * @internal The connection URL for the LISTEN connection when none was given: the pool's own
 * `connectionString`, or one rebuilt from its host/port/user/password/database options; undefined
 * when the pool has neither (the worker then polls only).
 *
 * ```ts
 * const url = poolConnectionString(new pg.Pool({ host: 'db', user: 'app', database: 'app' }))
 * // 'postgres://app@db:5432/app'
 * ```
 */
export function poolConnectionString(pool: pg.Pool): string | undefined {
  const options = (pool as unknown as { options?: pg.PoolConfig }).options
  if (options?.connectionString) return options.connectionString
  if (!options?.host) return undefined
  const user = encodeURIComponent(options.user ?? '')
  const password = options.password ? `:${encodeURIComponent(String(options.password))}` : ''
  return `postgres://${user}${password}@${options.host}:${options.port ?? 5432}/${options.database ?? ''}`
}
