// The notifier's statements: LISTEN and UNLISTEN on its dedicated connection. Channel names are
// identifiers, quoted (never interpolated raw); payload formats live in notify/messages.ts.

import { type Executor, runQuery } from '../db/executor.js'
import { quoteIdentifier } from '../db/identifiers.js'

/** @internal Subscribes a dedicated connection to a NOTIFY channel. */
export async function listenTo(client: Executor, channel: string): Promise<void> {
  await runQuery(client, `LISTEN ${quoteIdentifier(channel)}`)
}

/** @internal Ends a dedicated connection's subscription to a NOTIFY channel. */
export async function unlistenFrom(client: Executor, channel: string): Promise<void> {
  await runQuery(client, `UNLISTEN ${quoteIdentifier(channel)}`)
}

/** @internal Sends one notification (a worker's relayed wake-up; tests and tools). */
export async function notify(db: Executor, channel: string, payload: string): Promise<void> {
  await runQuery(db, 'SELECT pg_notify($1, $2)', [channel, payload])
}

/**
 * @internal Sends several notifications on one channel in one statement (counted, not returned: a
 * void column breaks clients that decode every column). Its transaction writes no WAL, so it holds
 * PostgreSQL's notification lock only for an instant.
 */
export async function notifyMany(db: Executor, channel: string, payloads: readonly string[]): Promise<void> {
  await runQuery(db, 'SELECT count(pg_notify($1, p)) AS sent FROM unnest($2::text[]) AS p', [
    channel,
    payloads,
  ])
}
