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
  -- the last tick fired and the job it produced (or the last manual trigger's job)
  last_run_at     timestamptz,
  last_job_id     bigint,
  -- set by a scheduler when the row cannot be fired (bad cron or time zone written in SQL, a job
  -- the database refuses); an errored schedule is skipped until its definition changes
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT schedules_name_check CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT schedules_task_check CHECK (task ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT schedules_queue_check CHECK (queue ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT schedules_missed_check CHECK (missed IN ('skip', 'once', 'all')),
  CONSTRAINT schedules_source_check CHECK (source IN ('code', 'table')),
  CONSTRAINT schedules_backfill_limit_check CHECK (backfill_limit BETWEEN 1 AND 10000),
  CONSTRAINT schedules_max_attempts_check CHECK (max_attempts IS NULL OR max_attempts BETWEEN 1 AND 1000),
  CONSTRAINT schedules_cron_check CHECK (length(cron) BETWEEN 1 AND 256),
  CONSTRAINT schedules_timezone_check CHECK (length(timezone) BETWEEN 1 AND 64)
);

-- What schedulers claim: due (or not yet computed) schedules that are neither paused nor errored.
CREATE INDEX schedules_due_idx ON {{schema}}.schedules (next_run_at) WHERE NOT paused AND error IS NULL;

-- Runtime changes take effect without restarting anything: an UPDATE of cron or timezone that does
-- not set next_run_at itself clears it, and a scheduler recomputes it from the new expression.
-- Resuming a paused schedule clears it too (ticks while paused are not caught up). Any change of
-- the definition clears a previous error, so fixing a corrupted row in SQL revives it.
CREATE FUNCTION {{schema}}.schedules_before_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF NEW.next_run_at IS NOT DISTINCT FROM OLD.next_run_at
     AND ((NEW.cron, NEW.timezone) IS DISTINCT FROM (OLD.cron, OLD.timezone)
          OR (OLD.paused AND NOT NEW.paused)) THEN
    NEW.next_run_at := NULL;
  END IF;
  IF (NEW.cron, NEW.timezone, NEW.task, NEW.payload, NEW.queue, NEW.priority, NEW.max_attempts,
      NEW.missed, NEW.backfill_limit)
     IS DISTINCT FROM (OLD.cron, OLD.timezone, OLD.task, OLD.payload, OLD.queue, OLD.priority,
      OLD.max_attempts, OLD.missed, OLD.backfill_limit) THEN
    NEW.error := NULL;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER schedules_before_update BEFORE UPDATE ON {{schema}}.schedules
  FOR EACH ROW EXECUTE FUNCTION {{schema}}.schedules_before_update();

REVOKE ALL ON FUNCTION {{schema}}.schedules_before_update() FROM PUBLIC;

COMMENT ON TABLE {{schema}}.schedules IS
  'pgq periodic schedules: one row per schedule, fired exactly once per tick. See docs/periodic-jobs.md.';
