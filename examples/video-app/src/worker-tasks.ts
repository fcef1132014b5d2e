// The tasks module for separate worker processes: `pgq work --tasks dist/worker-tasks.js`
// (with DATABASE_URL set). It binds the tasks to a pool of their own.
import pg from 'pg'
import { appTables } from './schema.js'
import { createTasks } from './tasks.js'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
pool.on('error', () => {})

/** Every task of the example; `pgq work` collects the task definitions of this object. */
export const tasks = createTasks({ pool, tables: appTables(process.env.VIDEO_APP_SCHEMA) })
