-- pgq 0011: which worker ran a job's latest attempt, kept after the job leaves `running`.
--
--   jobs.last_worker   the id of the worker (`workers.id`) whose outcome the finalize statement
--                      wrote last: the worker that ran the latest attempt to its end (success,
--                      failure, retry, snooze or cancel). `locked_by` is NULL outside `running`
--                      (a check constraint), so without this column a finished job could not say
--                      who ran it. Failed attempts also name their worker in `errors`. NULL for a
--                      job no worker finished. No index: it is read with the row, never searched.
--
-- One nullable column, no default: no table rewrite.

ALTER TABLE {{schema}}.jobs ADD COLUMN last_worker uuid;

COMMENT ON COLUMN {{schema}}.jobs.last_worker IS
  'pgq: the worker that ran the latest attempt to its end (kept after the job leaves running); NULL when none.';
