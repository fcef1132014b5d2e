// The handler's contract without a browser: option validation, the escaping helper, the metrics
// hook, methods, and a mount with no base path.

import { createPgq, PgqValidationError } from '@pgq/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import { html, raw } from '../src/http/html.js'
import { createDashboard } from '../src/index.js'
import { niceMax } from '../src/pages/charts.js'
import { startDashboard } from './dashboard-server.js'

let t: TestSchema

beforeAll(async () => {
  t = await createTestSchema()
})
afterAll(async () => {
  await t.drop()
})

describe('the handler', () => {
  it('validates its options with typed errors naming the option', () => {
    const pgq = createPgq({ pool: t.pool, schema: t.schema })
    expect(() => createDashboard({ pgq, basePath: 'admin' })).toThrow(/dashboard.basePath/)
    expect(() => createDashboard({ pgq, basePath: '/a b' })).toThrow(PgqValidationError)
    expect(() => createDashboard({ pgq, readOnly: 'yes' as never })).toThrow(/dashboard.readOnly/)
    expect(() => createDashboard({ pgq, colour: 'red' } as never)).toThrow(/dashboard.colour: unknown option/)
    expect(() => createDashboard({ pgq: {} as never })).toThrow(/dashboard.pgq/)
    expect(createDashboard({ pgq, basePath: '/admin/pgq/' }).config.basePath).toBe('/admin/pgq')
    expect(Object.isFrozen(createDashboard({ pgq }).config)).toBe(true)
  })

  it('escapes every interpolated value, nested templates and arrays included', () => {
    const name = `<img src=x onerror="alert('1')">&`
    expect(html`<td title="${name}">${name}</td>`.toString()).toBe(
      '<td title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;</td>',
    )
    expect(html`<ul>${['<a>', html`<li>${'<b>'}</li>`]}</ul>`.toString()).toBe(
      '<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>',
    )
    expect(html`${null}${undefined}${false}${0}${raw('&nbsp;')}`.toString()).toBe('0&nbsp;')
    expect([0, 1, 7, 10, 11, 99, 120].map(niceMax)).toEqual([1, 1, 10, 10, 20, 100, 200])
  })

  it('serves the metrics hook at <base>/metrics, and 404s it when none is given', async () => {
    const withMetrics = await startDashboard(t, {
      basePath: '/ops',
      metrics: async (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end('pgq_up 1\n')
      },
    })
    const without = await startDashboard(t, { basePath: '/ops' })
    try {
      const metrics = await withMetrics.get('/metrics')
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toBe('pgq_up 1\n')
      expect((await without.get('/metrics')).status).toBe(404)
    } finally {
      await withMetrics.close()
      await without.close()
    }
  })

  it('without a base path owns every path; refuses other methods with 405', async () => {
    const server = await startDashboard(t)
    try {
      expect((await server.get('/')).status).toBe(200)
      expect((await server.get('/jobs')).status).toBe(200)
      expect((await server.get('/anything')).status).toBe(404)
      const put = await server.get('/jobs', { method: 'PUT' })
      expect(put.status).toBe(405)
      expect(put.headers.get('allow')).toBe('GET, HEAD, POST')
      expect((await server.get('/actions/nothing', { method: 'POST' })).status).toBe(404)
    } finally {
      await server.close()
    }
  })
})
