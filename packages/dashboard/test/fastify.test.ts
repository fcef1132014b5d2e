// The dashboard mounted in Fastify the way docs/dashboard.md shows: pages, the live JSON endpoint and
// an action (a form body Fastify leaves unparsed for the dashboard to read) all work under the prefix.

import { createPgq } from '@pgq/core'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { markFailed, markRunning } from '../../pgq/test/worker-simulation.js'
import { createDashboard, type Dashboard } from '../src/index.js'

let t: TestSchema
let dashboard: Dashboard
let app: FastifyInstance
let url: string

beforeAll(async () => {
  t = await createTestSchema()
  const pgq = createPgq({ pool: t.pool, schema: t.schema })
  dashboard = createDashboard({ pgq, basePath: '/admin/pgq' })
  app = Fastify()
  app.get('/', async () => 'the app')
  // docs/dashboard.md#fastify
  app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null)) // the dashboard reads bodies
      const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        reply.hijack()
        if (!(await dashboard.handle(request.raw, reply.raw))) reply.raw.writeHead(404).end()
      }
      scope.all('/', handler)
      scope.all('/*', handler)
    },
    { prefix: '/admin/pgq' },
  )
  url = await app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  await dashboard.close()
  await app.close()
  await t.drop()
})

describe('in Fastify', () => {
  it('serves the pages and the app keeps its own routes', async () => {
    const { id } = await t.pgq.enqueue('send_email', { to: 'a@example.com' }, { queue: 'emails' })
    const overview = await fetch(`${url}/admin/pgq`)
    expect(overview.status).toBe(200)
    expect(await overview.text()).toContain('data-queue="emails"')
    expect(await (await fetch(`${url}/admin/pgq/jobs/${id}`)).text()).toContain('a@example.com')
    expect(await (await fetch(`${url}/`)).text()).toBe('the app')
    const live = (await (await fetch(`${url}/admin/pgq/api/live`)).json()) as { queues: unknown[] }
    expect(live.queues).toContainEqual(expect.objectContaining({ queue: 'emails', waiting: 1 }))
  })

  it('runs an action posted as a form', async () => {
    const { id } = await t.pgq.enqueue('send_email', {}, { queue: 'emails' })
    await markRunning(t, id)
    await markFailed(t, id, ['boom'])
    const page = await fetch(`${url}/admin/pgq/jobs/${id}`)
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!
    const response = await fetch(`${url}/admin/pgq/actions/jobs/${id}/retry`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: url },
      body: new URLSearchParams({ _csrf: token }).toString(),
    })
    expect(response.status).toBe(303)
    const { rows } = await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])
    expect(rows[0].state).toBe('available')
  })
})
