// A real Prisma 7 client for the ORM tests, generated during the test run (about 1 s) with the
// `prisma-client` generator and used through the node-postgres driver adapter (@prisma/adapter-pg),
// which needs no Rust engine at run time. `prisma generate` itself needs no schema engine either, so
// the CLI is pointed at /bin/true instead of downloading one from binaries.prisma.sh (only `migrate`
// and `db` commands would need it). The client lands in node_modules/.cache (gitignored, resolvable
// to @prisma/client) and is deleted again by `remove`.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { PrismaPg } from '@prisma/adapter-pg'

/** The model of the tests' `notes` table, as the generated client types it. */
export interface PrismaNote {
  id: number
  text: string
  jobId: bigint | null
}

/** The part of the generated client (or of its transaction client) that the tests use. */
export interface PrismaTransactionClient {
  note: {
    create(args: { data: { text: string; jobId?: bigint | null } }): Promise<PrismaNote>
    findMany(args?: { orderBy?: { id: 'asc' | 'desc' } }): Promise<PrismaNote[]>
  }
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
}

export interface PrismaTestClient extends PrismaTransactionClient {
  $transaction<T>(fn: (tx: PrismaTransactionClient) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

export const PRISMA_SCHEMA = `generator client {
  provider = "prisma-client"
  output   = "./client"
}

datasource db {
  provider = "postgresql"
}

model Note {
  id    Int     @id @default(autoincrement())
  text  String
  jobId BigInt? @map("job_id")

  @@map("notes")
}
`

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Generates the client into a fresh directory; `remove` deletes it. */
export async function generatePrismaClient(): Promise<{
  /** A client on `connectionString` whose models live in `schema` (the adapter's `schema` option). */
  connect(connectionString: string, schema: string): PrismaTestClient
  remove(): Promise<void>
}> {
  const cache = join(packageDir, 'node_modules', '.cache')
  await mkdir(cache, { recursive: true })
  const dir = await mkdtemp(join(cache, 'pgq-prisma-'))
  await writeFile(join(dir, 'schema.prisma'), PRISMA_SCHEMA)
  const cli = createRequire(import.meta.url).resolve('prisma/build/index.js')
  await promisify(execFile)(process.execPath, [cli, 'generate', '--schema', 'schema.prisma'], {
    cwd: dir,
    env: {
      ...process.env,
      // generate needs no schema engine: never download one
      PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true',
      PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: '1',
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    },
  })
  const generated = (await import(pathToFileURL(join(dir, 'client', 'client.ts')).href)) as {
    PrismaClient: new (options: { adapter: PrismaPg }) => PrismaTestClient
  }
  return {
    connect(connectionString, schema) {
      return new generated.PrismaClient({ adapter: new PrismaPg({ connectionString }, { schema }) })
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}
