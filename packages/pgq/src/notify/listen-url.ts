import type pg from 'pg'

/**
 * @internal The URL a notifier LISTENs on when none is given: the pool's own `connectionString`,
 * or one rebuilt from its `host`/`port`/`user`/`password`/`database` options; `undefined` when the
 * pool says neither (then nothing LISTENs and everything polls).
 *
 * ```ts
 * listenUrlOf(new pg.Pool({ host: 'db', user: 'app', database: 'app' })) // 'postgres://app@db:5432/app'
 * ```
 */
export function listenUrlOf(pool: pg.Pool): string | undefined {
  const options = (pool as unknown as { options?: pg.PoolConfig }).options
  if (options?.connectionString) return options.connectionString
  if (!options?.host) return undefined
  const user = encodeURIComponent(options.user ?? '')
  const password = options.password ? `:${encodeURIComponent(String(options.password))}` : ''
  const database = encodeURIComponent(options.database ?? '')
  const port = options.port ?? 5432
  if (options.host.startsWith('/')) {
    // a Unix socket directory goes in the query string
    return `postgres://${user}${password}@/${database}?host=${encodeURIComponent(options.host)}&port=${port}`
  }
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return `postgres://${user}${password}@${host}:${port}/${database}`
}
