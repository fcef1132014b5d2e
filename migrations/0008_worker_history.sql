-- pgq 0008: worker history. Gone workers are kept for a while instead of deleted, so `pgq workers`
-- and dashboards can show what stopped and what was lost, and one view says which workers are alive.
--
--   workers.stopped_at     when the worker left: set by its graceful stop (stop_reason 'stopped'), or
--                          by a rescuer that found its heartbeat stale (stop_reason 'lost'; stopped_at
--                          is then the last heartbeat). A worker whose heartbeat comes back (it was
--                          only cut off) clears both.
--   workers.heartbeat_ms   the worker's heartbeat interval, so readers judge freshness per worker.
--   worker_status          every worker row with its status: alive (not stopped and a heartbeat within
--                          3 intervals, at least 15 s), stopped or lost, and the jobs it runs now.
--
-- The pruner deletes rows of workers gone for more than 24 hours. See docs/schema.md and
-- docs/observability.md.

ALTER TABLE {{schema}}.workers
  ADD COLUMN stopped_at   timestamptz,
  ADD COLUMN stop_reason  text,
  ADD COLUMN heartbeat_ms integer,
  ADD CONSTRAINT workers_stop_reason_check
    CHECK (stop_reason IN ('stopped', 'lost') AND stopped_at IS NOT NULL OR stop_reason IS NULL AND stopped_at IS NULL),
  ADD CONSTRAINT workers_heartbeat_ms_check CHECK (heartbeat_ms > 0);

COMMENT ON COLUMN {{schema}}.workers.stopped_at IS
  'pgq: when the worker left (graceful stop, or its last heartbeat when a rescuer found it lost); NULL while it runs.';
COMMENT ON COLUMN {{schema}}.workers.stop_reason IS
  'pgq: stopped (graceful stop) or lost (heartbeat went stale); NULL while it runs.';
COMMENT ON COLUMN {{schema}}.workers.heartbeat_ms IS
  'pgq: the worker''s heartbeat interval in ms (NULL for workers started before 0008: 5000 assumed).';

-- The one definition of a live worker. Running jobs come from the partial index on running jobs.
CREATE VIEW {{schema}}.worker_status AS
SELECT
  w.id,
  w.hostname,
  w.pid,
  w.queues,
  w.concurrency,
  w.started_at,
  w.heartbeat_at,
  w.stopped_at,
  CASE WHEN w.stop_reason IS NOT NULL THEN w.stop_reason
       WHEN w.heartbeat_at < now() - make_interval(secs => greatest(3 * coalesce(w.heartbeat_ms, 5000), 15000) / 1000.0)
         THEN 'lost'
       ELSE 'alive' END AS status,
  coalesce(r.running, 0)::bigint AS running_jobs
FROM {{schema}}.workers AS w
LEFT JOIN (
  SELECT j.locked_by, count(*) AS running FROM {{schema}}.jobs AS j WHERE j.state = 'running' GROUP BY j.locked_by
) AS r ON r.locked_by = w.id;

COMMENT ON VIEW {{schema}}.worker_status IS
  'pgq: every worker row with its status (alive, stopped, lost) and the number of jobs it runs now.';

REVOKE ALL ON {{schema}}.worker_status FROM PUBLIC;

-- Roles that could read the workers table (workers, monitoring) may read the view.
DO $do$
DECLARE
  g record;
BEGIN
  FOR g IN
    SELECT DISTINCT a.grantee::regrole::text AS grantee
    FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
    WHERE c.oid = '{{schema}}.workers'::regclass AND a.privilege_type = 'SELECT'
      AND a.grantee <> 0 AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT SELECT ON {{schema}}.worker_status TO %s', g.grantee);
  END LOOP;
END
$do$;
