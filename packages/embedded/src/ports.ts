// TCP ports on the loopback interface, for servers started by the dev tooling, the tests and the
// benchmark (the one implementation: they all import it from '@pgq/embedded').
import net from 'node:net'

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it; another process may still
 * take it before you bind, so retry on "address in use").
 *
 * ```ts
 * const port = await freePort()
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => done(port))
    })
  })
}

/**
 * Whether `port` on 127.0.0.1 can be bound right now.
 *
 * ```ts
 * const port = (await isPortFree(5433)) ? 5433 : await freePort()
 * ```
 */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer()
    server.once('error', () => done(false))
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)))
  })
}
