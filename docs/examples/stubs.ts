// Stand-ins for the application code the guides' samples call (a mailer, a video encoder, …), so
// that every sample typechecks as written. Only their types matter; the guides' samples are
// typechecked by `tsc -b`, and the SQL and shell samples are run by docs/test/doc-samples.test.ts.
import pg from 'pg'

export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
export const mailer = {
  async send(_to: string, _options: { signal: AbortSignal }): Promise<{ messageId: string }> {
    return { messageId: 'm-1' }
  },
}
export async function encodeVideo(_path: string, _options: { signal: AbortSignal }): Promise<void> {}
export async function callCrm(_userId: number, _options: { signal: AbortSignal }): Promise<Response> {
  return new Response('{}')
}
export const metrics = {
  increment(_name: string, _tags: Record<string, string>): void {},
  timing(_name: string, _ms: number, _tags: Record<string, string>): void {},
  gauge(_name: string, _value: number, _tags: Record<string, string>): void {},
}
export const redis = {
  async lpush(_queue: string, _message: string): Promise<void> {},
}
