-- pgq 0003: periodic schedules. A schedule is a row; any number of schedulers fire it, and each
-- tick produces exactly one job because the claim (FOR UPDATE SKIP LOCKED), the insert and the
-- advance of next_run_at happen in one transaction. Fire history lives here, not in prunable jobs.

CREATE TABLE {{schema}}.schedules (
  name            text        PRIMARY KEY,
  cron            text        NOT NULL,
  timezone        text        NOT NULL DEFAULT 'UTC',
  task            text        NOT NULL,
  payload         jsonb       NOT NULL DEFAULT '{}'::jsonb,
  queue           text        NOT NULL DEFAULT 'default',
  priority        smallint    NOT NULL DEFAULT 0,
  max_attempts    smallint,
  -- what to do with ticks missed while no scheduler ran: skip them, enqueue one, or enqueue all
  missed          text        NOT NULL DEFAULT 'skip',
  backfill_limit  integer     NOT NULL DEFAULT 100,
  paused          boolean     NOT NULL DEFAULT false,
  -- 'code': declared by a worker's configuration; 'table': created from SQL, the CLI or the API
  source          text        NOT NULL DEFAULT 'table',
  -- null means "not computed yet": a scheduler computes it from cron + timezone
  next_run_at     timestamptz,
  last_run_at     timestamptz,
  last_job_id     bigint,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT schedules_name_check CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT schedules_task_check CHECK (task ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT schedules_queue_check CHECK (queue ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT schedules_missed_check CHECK (missed IN ('skip', 'once', 'all')),
  CONSTRAINT schedules_source_check CHECK (source IN ('code', 'table')),
  CONSTRAINT schedules_backfill_limit_check CHECK (backfill_limit BETWEEN 1 AND 10000)
);

CREATE INDEX schedules_due_idx ON {{schema}}.schedules (next_run_at) WHERE NOT paused;
