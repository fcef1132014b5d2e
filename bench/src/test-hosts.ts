// The test hosts of hosts.ts: network namespaces pgqh1…N, each joined to the root namespace by a
// veth pair (10.213.K.2/30 inside, 10.213.K.1/30 outside), nothing routed off the machine. Needs
// root and /usr/sbin/ip. Every host a run creates is removed by removeHosts().
import { execFileSync } from 'node:child_process'

export const IP = '/usr/sbin/ip'
const PREFIX = 'pgqh'
export const SUBNET = '10.213'

export const nsName = (k: number) => `${PREFIX}${k}`
export const hostSide = (k: number) => `${SUBNET}.${k}.1`
export const nsSide = (k: number) => `${SUBNET}.${k}.2`

export function ip(...args: string[]): string {
  return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** The test hosts this run created (removed by {@link removeHosts}). */
export const created: number[] = []

/** Creates hosts 1…count: namespace, veth pair, addresses, links up. Refuses to reuse anything. */
export function createHosts(count: number): void {
  const namespaces = ip('netns', 'list')
  const inUse = ip('-4', 'addr') + ip('-4', 'route', 'show', 'table', 'all')
  if (inUse.includes(`${SUBNET}.`)) throw new Error(`${SUBNET}.0.0/16 is already in use on this machine`)
  for (let k = 1; k <= count; k++) {
    if (new RegExp(`^${nsName(k)}\\b`, 'm').test(namespaces))
      throw new Error(
        `namespace ${nsName(k)} exists (another run, or one killed: ip link del ${nsName(k)}-h; ip netns del ${nsName(k)})`,
      )
  }
  for (let k = 1; k <= count; k++) {
    const ns = nsName(k)
    ip('netns', 'add', ns)
    created.push(k)
    ip('link', 'add', `${ns}-h`, 'type', 'veth', 'peer', 'name', `${ns}-n`)
    ip('link', 'set', `${ns}-n`, 'netns', ns)
    ip('addr', 'add', `${hostSide(k)}/30`, 'dev', `${ns}-h`)
    ip('link', 'set', `${ns}-h`, 'up')
    ip('-n', ns, 'addr', 'add', `${nsSide(k)}/30`, 'dev', `${ns}-n`)
    ip('-n', ns, 'link', 'set', `${ns}-n`, 'up')
    ip('-n', ns, 'link', 'set', 'lo', 'up')
  }
}

/** Deletes every host this run created: the veth first (both ends go at once), then the namespace. */
export function removeHosts(): void {
  while (created.length > 0) {
    const ns = nsName(created.pop()!)
    for (const args of [
      ['link', 'del', `${ns}-h`],
      ['netns', 'del', ns],
    ]) {
      try {
        ip(...args)
      } catch {
        // already gone (a half-made host)
      }
    }
  }
}

/** The database URL as seen from host k. */
export function urlFrom(url: string, k: number): string {
  const u = new URL(url)
  u.hostname = hostSide(k)
  return u.toString()
}
