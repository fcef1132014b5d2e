-- pgq 0007: schedules take their queue and priority from the task registry when they do not set them.
--
-- schedules.queue and schedules.priority become nullable with no default. NULL means "the task's
-- own default": at fire time (and on a manual trigger) the scheduler leaves the value out of the
-- enqueue_many() job, which fills it from pgq.tasks (migration 0006), else from the global default
-- (queue 'default', priority 0), exactly like max_attempts already did. A value that is set still
-- wins. So a schedule that names its task by string (SQL, `pgq schedule add`, Schedules.set) fires
-- into the queue its task declares once a worker has registered it.
--
-- Existing rows keep the queue and priority they stored: an explicit 'default' cannot be told from
-- the old column default, so nothing is rewritten. To let such a schedule follow its task:
--   UPDATE pgq.schedules SET queue = NULL, priority = NULL WHERE name = '…';
-- See docs/periodic-jobs.md and docs/schema.md.

ALTER TABLE {{schema}}.schedules
  ALTER COLUMN queue DROP DEFAULT,
  ALTER COLUMN queue DROP NOT NULL,
  ALTER COLUMN priority DROP DEFAULT,
  ALTER COLUMN priority DROP NOT NULL;

-- The name check already passes NULL (a CHECK is only violated by false); spelled out so it reads so.
ALTER TABLE {{schema}}.schedules
  DROP CONSTRAINT schedules_queue_check,
  ADD CONSTRAINT schedules_queue_check CHECK (queue IS NULL OR queue ~ '^[A-Za-z0-9_.:-]{1,128}$');

COMMENT ON COLUMN {{schema}}.schedules.queue IS
  'pgq: queue of the fired jobs; NULL = the task''s registered queue (pgq.tasks), else ''default''.';
COMMENT ON COLUMN {{schema}}.schedules.priority IS
  'pgq: priority of the fired jobs; NULL = the task''s registered priority (pgq.tasks), else 0.';
