import { describe, expect, it } from 'vitest'
import { JobAbortedError } from '../src/task/job-outcome.js'
import { RunningJob } from '../src/worker/running-job.js'

const claim = {
  id: '7',
  task: 't',
  queue: 'q',
  payload: {},
  attempt: 1,
  maxAttempts: 3,
  leaseToken: 'x',
  waitMs: 0,
}

describe('RunningJob.signal (made on first read)', () => {
  it('a signal read before the abort fires its listeners once, with a JobAbortedError of the first reason', () => {
    const job = new RunningJob(claim)
    const signal = job.signal
    expect(job.signal).toBe(signal) // one signal per run
    const reasons: unknown[] = []
    signal.addEventListener('abort', () => reasons.push(signal.reason))
    job.abort('cancelled')
    job.abort('timeout')
    expect(reasons).toHaveLength(1)
    expect(reasons[0]).toBeInstanceOf(JobAbortedError)
    expect((reasons[0] as JobAbortedError).reason).toBe('cancelled')
  })

  it('a signal first read after the abort is already aborted, with that reason', () => {
    const job = new RunningJob(claim)
    job.abort('lease-lost')
    expect(job.signal.aborted).toBe(true)
    expect((job.signal.reason as JobAbortedError).reason).toBe('lease-lost')
  })

  it('a run never aborted has no reason and a signal that is not aborted', () => {
    const job = new RunningJob(claim)
    expect(job.abortReason).toBeUndefined()
    expect(job.signal.aborted).toBe(false)
  })
})
