import net from 'node:net'

/** Whether a Redis answers PING at `url` within `timeoutMs`. */
export function redisAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      resolve(false)
      return
    }
    const socket = net.connect({ host: parsed.hostname, port: Number(parsed.port || '6379') })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => {
      const password = parsed.password ? decodeURIComponent(parsed.password) : ''
      socket.write(password ? `AUTH ${password}\r\nPING\r\n` : 'PING\r\n')
    })
    socket.on('data', (data) => done(data.toString().includes('PONG')))
  })
}
