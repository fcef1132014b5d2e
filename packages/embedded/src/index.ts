/**
 * pgq's development tooling, kept out of the core library: an embedded PostgreSQL from npm
 * (`startEmbeddedPostgres`) and a whole dev environment in one call (`startDev`).
 *
 * ```ts
 * import { startDev } from '@pgq/embedded'
 * const dev = await startDev({ worker: { tasks: [sendEmail] } })
 * console.log(dev.url)
 * ```
 * @module
 */
export { type DevEnvironment, type DevOptions, devDatabasePort, startDev } from './dev.js'
export { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded.js'
export { freePort, isPortFree } from './ports.js'
