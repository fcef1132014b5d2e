// The app's first steps with pgq, as docs/getting-started.md shows them. packages/cli/test/first-app.test.ts
// installs the packed packages in a fresh folder, copies these files there and runs them.

// #region db
// db.js: the app's own pool, from DATABASE_URL; pgq shares it.
import pg from 'pg'

export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
pool.on('error', (error) => console.error(`idle database client lost: ${error.message}`)) // not a crash
// #endregion db
