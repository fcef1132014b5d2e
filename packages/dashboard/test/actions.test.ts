// Actions over real HTTP: each changes the database; read-only mode, missing or wrong CSRF tokens and
// cross-origin requests are refused with 403 and change nothing.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../../pgq/test/test-database.js'
import {
  type DashboardServer,
  post,
  postAs,
  type Session,
  session,
  startDashboard,
} from './dashboard-server.js'
import { type Seeded, seedEveryState } from './seed.js'

let t: TestSchema
let server: DashboardServer
let s: Seeded
let me: Session

const state = async (id: string) =>
  (await t.pool.query(`SELECT state FROM "${t.schema}".jobs WHERE id = $1`, [id])).rows[0]?.state as
    | string
    | undefined
const snapshot = async () =>
  (await t.pool.query(`SELECT id, state, queue FROM "${t.schema}".jobs ORDER BY id`)).rows

beforeAll(async () => {
  t = await createTestSchema()
  server = await startDashboard(t, { basePath: '/ops/queue' })
})
beforeEach(async () => {
  s = await seedEveryState(t)
  await t.pgq.schedules.set({ name: 'digest', cron: '0 8 * * *', task: 'send_digest' })
  me = await session(server, '/jobs')
})
afterEach(async () => {
  await t.pool.query(
    `DELETE FROM "${t.schema}".jobs; DELETE FROM "${t.schema}".workers; DELETE FROM "${t.schema}".schedules; DELETE FROM "${t.schema}".queues`,
  )
})
afterAll(async () => {
  await server.close()
  await t.drop()
})

describe('actions', () => {
  it('retry, cancel and delete one job, then redirect back with a notice', async () => {
    const retried = await postAs(server, me, `/actions/jobs/${s.failed}/retry`, {
      return: `/ops/queue/jobs/${s.failed}`,
    })
    expect(retried.status).toBe(303)
    expect(retried.headers.get('location')).toBe(`/ops/queue/jobs/${s.failed}?notice=retried&n=1`)
    expect(await state(s.failed)).toBe('available')
    const shown = await (await server.get(`/jobs/${s.failed}?notice=retried&n=1`)).text()
    expect(shown).toContain('<p class="notice" role="status" data-testid="notice">Retried 1 job(s).</p>')

    expect((await postAs(server, me, `/actions/jobs/${s.waiting}/cancel`)).status).toBe(303)
    expect(await state(s.waiting)).toBe('cancelled')
    const cancelRunning = await postAs(server, me, `/actions/jobs/${s.running}/cancel`)
    expect(cancelRunning.headers.get('location')).toContain('notice=cancel-requested')

    expect((await postAs(server, me, `/actions/jobs/${s.cancelled}/delete`)).status).toBe(303)
    expect(await state(s.cancelled)).toBeUndefined()
  })

  it('an outside return address is replaced by the overview', async () => {
    const response = await postAs(server, me, `/actions/jobs/${s.failed}/retry`, {
      return: 'https://evil.example/',
    })
    expect(response.headers.get('location')).toBe('/ops/queue/?notice=retried&n=1')
    const sneaky = await postAs(server, me, `/actions/jobs/${s.failed}/delete`, {
      return: '//evil.example/ops/queue',
    })
    expect(sneaky.headers.get('location')).toBe('/ops/queue/?notice=deleted&n=1')
  })

  it('bulk actions apply to the whole filter; a search filter is refused', async () => {
    const more = await t.pgq.enqueueMany(Array.from({ length: 3 }, () => ({ task: 'noise', payload: {} })))
    const response = await postAs(server, me, '/actions/jobs', {
      action: 'cancel',
      state: 'available',
      task: 'noise',
    })
    expect(response.headers.get('location')).toContain('notice=cancelled&n=3')
    for (const job of more) expect(await state(job.id)).toBe('cancelled')
    expect(await state(s.waiting)).toBe('available') // another task

    const retried = await postAs(server, me, '/actions/jobs', { action: 'retry', task: 'noise' })
    expect(retried.headers.get('location')).toContain('notice=retried&n=3')

    const refused = await postAs(server, me, '/actions/jobs', { action: 'delete', q: 'noise' })
    expect(refused.status).toBe(400)
    const wrongState = await postAs(server, me, '/actions/jobs', { action: 'retry', state: 'running' })
    expect(wrongState.status).toBe(400)
    expect(await wrongState.text()).toMatch(/retry applies to failed, cancelled, expired jobs only/)
  })

  it('redrive retries the failed jobs of a queue', async () => {
    const response = await postAs(server, me, '/actions/queues/emails/redrive')
    expect(response.headers.get('location')).toContain('notice=retried&n=1')
    expect(await state(s.failed)).toBe('available')
    expect(await state(s.cancelled)).toBe('cancelled')
  })

  it('pauses and resumes a queue from the overview', async () => {
    expect(await (await server.get('/')).text()).toContain('data-testid="action-queue-pause"')
    const paused = await postAs(server, me, '/actions/queues/emails/pause')
    expect(paused.headers.get('location')).toContain('notice=queue-paused')
    expect((await t.pgq.queues.get('emails'))?.paused).toBe(true)
    const overview = await (await server.get('/')).text()
    expect(overview).toContain('data-testid="queue-paused"')
    expect(overview).toContain('data-testid="action-queue-resume"')
    await postAs(server, me, '/actions/queues/emails/resume')
    expect((await t.pgq.queues.get('emails'))?.paused).toBe(false)
    // refused without the CSRF token: nothing changes
    expect((await post(server, '/actions/queues/emails/pause', {}, { cookie: me.cookie })).status).toBe(403)
    expect((await t.pgq.queues.get('emails'))?.paused).toBe(false)
    // the queue's rate and per-key limits show under its name
    await t.pgq.queues.set('emails', { rate: '10/s', keyConcurrency: 1, ordered: true, keyRate: '5/m' })
    expect(await (await server.get('/')).text()).toMatch(
      /data-testid="queue-limits">10 per 1\.0 s · 1 per key, in order · 5 per 1 min 0 s per key</,
    )
    await t.pgq.queues.set('emails', { rate: null, keyConcurrency: null, ordered: false, keyRate: null })
  })

  it('pauses, resumes and triggers a schedule', async () => {
    await postAs(server, me, '/actions/schedules/digest/pause')
    expect((await t.pgq.schedules.get('digest'))?.paused).toBe(true)
    expect(await (await server.get('/schedules')).text()).toContain('data-testid="action-resume"')
    await postAs(server, me, '/actions/schedules/digest/resume')
    expect((await t.pgq.schedules.get('digest'))?.paused).toBe(false)
    const triggered = await postAs(server, me, '/actions/schedules/digest/trigger')
    const jobId = /n=(\d+)/.exec(triggered.headers.get('location') ?? '')?.[1]
    expect(await state(jobId!)).toBe('available')
    expect((await postAs(server, me, '/actions/schedules/nope/pause')).status).toBe(404)
  })

  it('refuses a POST without the token, with a wrong one, or without the cookie (403, nothing changes)', async () => {
    const before = await snapshot()
    const path = `/actions/jobs/${s.failed}/retry`
    const other = await startDashboard(t, { basePath: '/ops/queue' }) // another process: another secret
    const foreign = await session(other)
    await other.close()
    const attempts = [
      post(server, path, {}, { cookie: me.cookie }),
      post(server, path, { _csrf: `${me.token}x` }, { cookie: me.cookie }),
      post(server, path, { _csrf: me.token }),
      post(server, path, { _csrf: foreign.token }, { cookie: foreign.cookie }),
    ]
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(403)
      expect(await response.text()).toMatch(/CSRF token/)
    }
    expect(await snapshot()).toEqual(before)
  })

  it('refuses cross-origin POSTs even with a valid token', async () => {
    const before = await snapshot()
    const path = `/actions/jobs/${s.failed}/retry`
    const fields = { _csrf: me.token }
    const evil = await post(server, path, fields, { cookie: me.cookie, origin: 'https://evil.example' })
    expect(evil.status).toBe(403)
    expect(await evil.text()).toMatch(/cross-origin/)
    const site = await post(server, path, fields, { cookie: me.cookie, 'sec-fetch-site': 'cross-site' })
    expect(site.status).toBe(403)
    const sameSite = await post(server, path, fields, { cookie: me.cookie, 'sec-fetch-site': 'same-site' })
    expect(sameSite.status).toBe(403)
    expect(await snapshot()).toEqual(before)
  })

  it('read-only mode draws no action and refuses every POST with 403', async () => {
    const ro = await startDashboard(t, { basePath: '/ops/queue', readOnly: true })
    try {
      const html = await (await ro.get(`/jobs/${s.failed}`)).text()
      expect(html).toContain('data-testid="read-only-badge"')
      expect(html).not.toContain('data-testid="action-')
      expect(await (await ro.get('/')).text()).not.toContain('<form class="inline" method="post"')
      const before = await snapshot()
      const token = await session(server) // a valid session of the writable twin
      for (const path of [
        `/actions/jobs/${s.failed}/retry`,
        '/actions/queues/emails/redrive',
        '/actions/queues/emails/pause',
        '/actions/schedules/digest/pause',
      ]) {
        const response = await post(ro, path, { _csrf: token.token }, { cookie: token.cookie })
        expect(response.status).toBe(403)
        expect(await response.text()).toMatch(/read-only/)
      }
      expect(await snapshot()).toEqual(before)
      expect((await t.pgq.schedules.get('digest'))?.paused).toBe(false)
      expect(await t.pgq.queues.get('emails')).toMatchObject({ paused: false })
    } finally {
      await ro.close()
    }
  })
})

describe('retrying a workflow node', () => {
  it('resumes the graph; a node of a cancelled workflow is refused with 409 and stays as it is', async () => {
    const created = async () => {
      const { rows } = await t.pool.query<{ id: string }>(
        `SELECT "${t.schema}".create_chain('[{"task":"first_step","payload":1},{"task":"second_step"}]')::text AS id`,
      )
      return (await t.pgq.workflows.get(rows[0]!.id))!
    }
    const wf = await created()
    const [first, second] = wf.nodes
    await t.pgq.jobs.cancel(first!.id) // counted like a failure: the second step is cancelled
    expect(await state(second!.id)).toBe('cancelled')
    const retried = await postAs(server, me, `/actions/jobs/${first!.id}/retry`)
    expect(retried.status).toBe(303)
    expect([await state(first!.id), await state(second!.id)]).toEqual(['available', 'blocked'])

    const gone = await created()
    await t.pgq.workflows.cancel(gone.id)
    const refused = await postAs(server, me, `/actions/jobs/${gone.nodes[0]!.id}/retry`)
    expect(refused.status).toBe(409)
    expect(await refused.text()).toContain('which was cancelled')
    expect(await state(gone.nodes[0]!.id)).toBe('cancelled')
  })
})
