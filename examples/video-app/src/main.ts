#!/usr/bin/env node
// Runs the example: `node dist/main.js` (embedded PostgreSQL in ./.pgq/data, or $DATABASE_URL).
import { createLineLogger } from '@pgq/core'
import { startVideoApp } from './video-app.js'

const videoApp = await startVideoApp({
  port: Number(process.env.PORT ?? 3000),
  logger: createLineLogger('info'),
})
process.stdout.write(
  `video-app listening on ${videoApp.url}\n` +
    `  curl -X POST ${videoApp.url}/videos/42/process\n` +
    `  psql ${videoApp.dev.url}\n` +
    'Ctrl-C stops it (running jobs get a grace period, then go back to the queue).\n',
)
let signals = 0
const stop = () => {
  if (++signals > 1) process.exit(1)
  void videoApp.stop().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
