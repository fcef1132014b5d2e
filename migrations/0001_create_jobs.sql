-- pgq 0001: the jobs table.
--
-- {{schema}} is replaced by the quoted schema name (default "pgq") when the migration is applied.
-- A job is one row for its whole life: it is claimed in place (state -> running, with a lease),
-- finished in place (state -> succeeded | failed | cancelled, with its result or errors) and later
-- deleted by the Pruner once delete_after has passed.

CREATE TABLE {{schema}}.jobs (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- routing
  queue              text        NOT NULL DEFAULT 'default',
  task               text        NOT NULL,
  payload            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  state              text        NOT NULL DEFAULT 'available',
  -- higher runs first
  priority           smallint    NOT NULL DEFAULT 0,
  run_at             timestamptz NOT NULL DEFAULT now(),
  -- attempts: runs started and not interrupted; interruptions: runs that ended without an outcome
  -- from the handler (the worker died, its lease expired). Each has its own cap.
  attempts           smallint    NOT NULL DEFAULT 0,
  max_attempts       smallint    NOT NULL DEFAULT 5,
  interruptions      smallint    NOT NULL DEFAULT 0,
  max_interruptions  smallint    NOT NULL DEFAULT 3,
  -- the lease of the current run (all three set exactly while state = 'running')
  locked_by          uuid,
  lease_token        uuid,
  lease_expires_at   timestamptz,
  started_at         timestamptz,
  cancel_requested_at timestamptz,
  -- outcome
  result             jsonb,
  progress           jsonb,
  errors             jsonb       NOT NULL DEFAULT '[]'::jsonb,
  -- deduplication: at most one waiting or running job per (task, dedup_key)
  dedup_key          text,
  -- periodic jobs: the schedule and the tick that produced this job
  schedule_name      text,
  scheduled_for      timestamptz,
  -- free-form metadata for later features (workflows, tracing); never read by the claim path
  meta               jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  delete_after       timestamptz,

  CONSTRAINT jobs_state_check CHECK (state IN ('available', 'running', 'succeeded', 'failed', 'cancelled')),
  -- the full name rule (^[A-Za-z0-9_.:-]{1,128}$) is checked by enqueue_many() once per distinct
  -- name of a batch; per row, the table only bounds the length (a regex per row costs ~40 % of a
  -- bulk insert)
  CONSTRAINT jobs_queue_check CHECK (length(queue) BETWEEN 1 AND 128),
  CONSTRAINT jobs_task_check CHECK (length(task) BETWEEN 1 AND 128),
  CONSTRAINT jobs_attempts_check CHECK (attempts >= 0 AND max_attempts >= 1),
  CONSTRAINT jobs_interruptions_check CHECK (interruptions >= 0 AND max_interruptions >= 1),
  CONSTRAINT jobs_dedup_key_check CHECK (dedup_key IS NULL OR length(dedup_key) BETWEEN 1 AND 512),
  CONSTRAINT jobs_lease_check CHECK (
    (state = 'running') = (locked_by IS NOT NULL AND lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)
  ),
  CONSTRAINT jobs_finished_check CHECK (
    (state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)
  )
) WITH (
  -- leave room in each page so lease, progress and state updates can be HOT updates
  fillfactor = 70,
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_limit = 2000
);

-- The claim path: due, runnable jobs of one queue in priority order. Only runnable rows are indexed,
-- so finished history and running jobs never slow the claim down.
CREATE INDEX jobs_claim_idx ON {{schema}}.jobs (queue, priority DESC, run_at, id)
  WHERE state = 'available';

-- The JobRescuer: running jobs whose lease expired.
CREATE INDEX jobs_lease_idx ON {{schema}}.jobs (lease_expires_at)
  WHERE state = 'running';

-- Deduplication, enforced by the database: one live job per (task, dedup_key).
CREATE UNIQUE INDEX jobs_dedup_idx ON {{schema}}.jobs (task, dedup_key)
  WHERE dedup_key IS NOT NULL AND state IN ('available', 'running');

-- Periodic jobs: one job per (schedule, tick) among the rows still in the table.
CREATE UNIQUE INDEX jobs_schedule_tick_idx ON {{schema}}.jobs (schedule_name, scheduled_for)
  WHERE schedule_name IS NOT NULL;

-- The Pruner: finished jobs past their retention.
CREATE INDEX jobs_delete_after_idx ON {{schema}}.jobs (delete_after)
  WHERE delete_after IS NOT NULL;

-- Inspection of failures by task.
CREATE INDEX jobs_failed_idx ON {{schema}}.jobs (task, finished_at)
  WHERE state = 'failed';

COMMENT ON TABLE {{schema}}.jobs IS 'pgq jobs: one row per job for its whole life. See docs/schema.md.';
