import { existsSync } from 'node:fs'
import { PgqError } from '../../errors.js'
import type { HostMessage, ParentMessage } from './wire.js'

/** @internal How a host (thread or process) ended. */
export interface HostExit {
  readonly code: number | null
  readonly signal: string | null
  /** What killed it, when known: an uncaught error, `ERR_WORKER_OUT_OF_MEMORY`, a stderr tail. */
  readonly detail: string | undefined
  /** True when the parent asked for it (terminate, SIGKILL, pool shrink). */
  readonly requested: boolean
}

/** @internal One thread or child process that runs handlers, one at a time. */
export interface Host {
  readonly kind: 'thread' | 'process'
  /** Resolves when the host has loaded its entry and can take runs; rejects if it died first. */
  readonly ready: Promise<void>
  readonly alive: boolean
  send(message: ParentMessage): void
  onMessage(listener: (message: HostMessage) => void): void
  onExit(listener: (exit: HostExit) => void): void
  /** Kills it for real; resolves once it is gone. */
  kill(): Promise<void>
  /** Whether it keeps the parent process alive (only while it runs a job). */
  setActive(active: boolean): void
}

/** @internal What every host of one pool is started with. */
export interface HostOptions {
  /** The tasks module, imported before the host says it is ready (so no attempt pays for it). */
  readonly module: string
  /** Memory cap (V8 old generation), in MB; undefined = Node's default. */
  readonly maxMemoryMb: number | undefined
}

/**
 * @internal The built host program. Tests run pgq from its sources, where no `.js` sits next to
 * this file: they use the built one in `dist/` (build first, as for the CLI tests).
 */
export function hostEntryUrl(): URL {
  const here = new URL('./host-entry.js', import.meta.url)
  if (existsSync(here)) return here
  const built = new URL(import.meta.url.replace('/src/worker/isolation/', '/dist/worker/isolation/'))
  const fromDist = new URL('./host-entry.js', built)
  if (existsSync(fromDist)) return fromDist
  throw new PgqError(
    'PGQ_ISOLATION_UNAVAILABLE',
    `the handler host program is missing (${here.pathname}); build pgq (tsc -b) first`,
  )
}

/** @internal A ready-wait that fails when the host exits before it says `ready`. */
export function readyPromise(host: Pick<Host, 'onMessage' | 'onExit'>, kind: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    host.onMessage((message) => {
      if (message.type === 'ready') resolve()
    })
    host.onExit((exit) =>
      reject(
        new PgqError('PGQ_HANDLER_CRASHED', `the handler ${kind} exited before it was ready`, {
          code: exit.code,
          signal: exit.signal,
          detail: exit.detail,
        }),
      ),
    )
  })
}
