import type { Logger } from '../logger.js'

/** SQLSTATEs of a named statement meeting the wrong server connection behind a pooler. */
const STATEMENT_LOST = new Set([
  '26000', // prepared statement "…" does not exist
  '42P05', // prepared statement "…" already exists
])

/**
 * @internal Whether a worker's hot statements (claim, outcome) run as named prepared statements,
 * and the safety net when they cannot: a statement that fails because a transaction-mode pooler
 * moved it to another server connection is run again unnamed (it never ran, so this is safe), and
 * named statements are off from then on, with one warning line. The start-up probe
 * (`checkPooler`) normally decides before the first claim; this catches what it could not see.
 *
 * ```ts
 * const statements = new StatementMode(true, logger)
 * const rows = await statements.run((prepared) => claimJobs(pool, names, params, prepared))
 * ```
 */
export class StatementMode {
  #prepared: boolean
  readonly #logger: Logger

  constructor(prepared: boolean, logger: Logger) {
    this.#prepared = prepared
    this.#logger = logger
  }

  /** True while named prepared statements are in use. */
  get prepared(): boolean {
    return this.#prepared
  }

  /** Turns named statements off for good (the probe found a pooler that loses them). */
  disable(): void {
    this.#prepared = false
  }

  /** Runs `statement`; retries it once unnamed when a pooler lost its named form. */
  async run<T>(statement: (prepared: boolean) => Promise<T>): Promise<T> {
    const prepared = this.#prepared
    try {
      return await statement(prepared)
    } catch (error) {
      if (!prepared || !STATEMENT_LOST.has((error as { code?: string }).code ?? '')) throw error
      if (this.#prepared) {
        this.#prepared = false
        this.#logger.warn(
          'a pooler lost a named prepared statement; using unnamed statements from now on ' +
            '(set preparedStatements: false in createPgq and the worker behind PgBouncer < 1.21 in transaction mode)',
          { error: (error as Error).message },
        )
      }
      return statement(false)
    }
  }
}
