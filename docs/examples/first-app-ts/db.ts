// The TypeScript form of docs/examples/first-app (docs/getting-started.md): typechecked by `tsc -b`;
// tasks.ts is also the module `pgq work --tasks tasks.ts` loads in packages/cli/test/typescript-tasks.test.ts.

// #region db
// db.ts: the app's own pool, from DATABASE_URL; pgq shares it.
import pg from 'pg'

export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
pool.on('error', (error) => console.error(`idle database client lost: ${error.message}`)) // not a crash
// #endregion db
