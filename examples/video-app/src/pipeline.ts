// The video pipeline as one workflow: transcode → three thumbnails in parallel → publish once with
// all three (Celery: chain(process_video.s(id), chord(group(thumbs), publish.s()))). Every node is an
// ordinary pgq job; the whole graph is created in the caller's transaction.

import { chain, chord, group, job, type Pgq, step, type WorkflowInfo } from '@pgq/core'
import type pg from 'pg'
import type { AppTables } from './schema.js'
import type { VideoTasks } from './tasks.js'

/**
 * The pipeline's flow for one video.
 *
 * ```ts
 * const wf = await pgq.workflows.create(videoPipeline(tasks, 42), { db: trx })
 * ```
 */
export function videoPipeline(tasks: VideoTasks, videoId: number) {
  return chain(
    job(tasks.processVideo, { videoId }),
    chord(
      group(step(tasks.thumbnailStart), step(tasks.thumbnailMiddle), step(tasks.thumbnailEnd)),
      step(tasks.publishVideo),
    ),
  )
}

/** What {@link startPipeline} answers: the workflow, its first job (the transcode), and whether it already existed. */
export interface StartedPipeline {
  readonly workflowId: string
  readonly jobId: string
  readonly deduplicated: boolean
}

/**
 * Starts the pipeline for a video on `client` (in a transaction that has just upserted the video's
 * row, so the row is locked): while the video's previous workflow is still running, returns it
 * instead of a second one; otherwise creates a new workflow and records it on the row. Roll back
 * and neither the row change nor any node exists.
 *
 * ```ts
 * const started = await startPipeline({ pgq, tables, tasks }, client, 42)
 * ```
 */
export async function startPipeline(
  deps: { readonly pgq: Pgq; readonly tables: AppTables; readonly tasks: VideoTasks },
  client: pg.ClientBase,
  videoId: number,
): Promise<StartedPipeline> {
  const { pgq, tables, tasks } = deps
  const { rows } = await client.query<{ workflow_id: string | null }>(
    `SELECT workflow_id::text FROM ${tables.videos} WHERE id = $1 FOR UPDATE`,
    [videoId],
  )
  const previous = rows[0]?.workflow_id ? await pgq.workflows.get(rows[0].workflow_id) : undefined
  if (previous?.state === 'running') {
    return { workflowId: previous.id, jobId: previous.nodes[0]!.id, deduplicated: true }
  }
  const wf = await pgq.workflows.create(videoPipeline(tasks, videoId), {
    db: client,
    name: `video ${videoId}`,
  })
  await client.query(`UPDATE ${tables.videos} SET workflow_id = $2 WHERE id = $1`, [videoId, wf.id])
  return { workflowId: wf.id, jobId: wf.jobIds[0]!, deduplicated: false }
}

/** A workflow as `GET /videos/:id` shows it: its state and each node's task and state. */
export function pipelineView(wf: WorkflowInfo) {
  return {
    id: wf.id,
    state: wf.state,
    nodes: wf.nodes.map((n) => ({ jobId: n.id, task: n.task, state: n.state })),
  }
}
