// Samples of the "Logs" section of docs/observability.md.

// #region pino
import { createJsonLogger, createPgq, defineTask, fromPino } from '@pgq/core'
import pino from 'pino'

const sendEmail = defineTask({ name: 'send_email', queue: 'emails', handler: async () => ({ sent: true }) })
const pgq = createPgq({ connectionString: process.env.DATABASE_URL })

// your pino logger as it is: pgq's fields become properties of its JSON lines
const logger = pino({ level: 'info' })
const worker = pgq.createWorker({ tasks: [sendEmail], logger })

// a child logger, or any (fields, message) logger such as bunyan, through fromPino
const tagged = pgq.createWorker({ tasks: [sendEmail], logger: fromPino(logger.child({ component: 'pgq' })) })

// no logging library: the same JSON lines as `--log-format json`, on stderr
const plain = pgq.createWorker({ tasks: [sendEmail], logger: createJsonLogger('info') })
// #endregion pino

void [worker, tagged, plain]
