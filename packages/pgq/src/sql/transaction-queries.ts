import { type Executor, runQuery } from '../db/executor.js'

const TRANSACTION_COMMANDS = {
  BEGIN: 'BEGIN',
  COMMIT: 'COMMIT',
  ROLLBACK: 'ROLLBACK',
  SAVEPOINT: 'SAVEPOINT pgq_step',
  RELEASE: 'RELEASE SAVEPOINT pgq_step',
  'ROLLBACK TO': 'ROLLBACK TO SAVEPOINT pgq_step',
} as const

/** @internal Runs `BEGIN`, `COMMIT`, `ROLLBACK` or a savepoint command (`pgq_step`) on a client. */
export async function transactionControl(
  db: Executor,
  command: keyof typeof TRANSACTION_COMMANDS,
): Promise<void> {
  await runQuery(db, TRANSACTION_COMMANDS[command])
}
