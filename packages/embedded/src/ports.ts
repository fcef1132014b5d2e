// TCP ports on the loopback interface, for servers started by the dev tooling, the tests and the
// benchmark (the one implementation: they all import it from '@pgq/embedded').
import net from 'node:net'

/** Ports this process handed out: the OS may offer a just-released port again at once. */
const handedOut = new Set<number>()

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it; another process may still
 * take it before you bind, so retry on "address in use"). Never the same port twice in one process,
 * so servers started concurrently (tests run side by side) do not get the same one.
 *
 * ```ts
 * const port = await freePort()
 * ```
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await osPickedPort()
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
}

function osPickedPort(): Promise<number> {
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
