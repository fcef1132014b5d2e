-- pgq 0013: retrying a failed workflow node resumes the graph (docs/workflows.md "Retry resumes the graph").
--
-- When a node fails for good (or is cancelled), the statement that writes its outcome counts it on
-- its dependants' workflow_nodes rows as a failed parent, and the settle trigger (0009) cancels the
-- dependants that cannot run without it (DependencyFailedError), recursively. Retrying the node
-- (pgq.jobs.retry, `pgq retry`, the dashboard) now undoes that count in the same statement: each
-- dependant gets the parent back as pending and loses it as failed
-- (packages/pgq/src/sql/admin-queries.ts, retryJobs). This trigger fires on that decrease: a
-- dependant that was cancelled only because of a failed parent, and now has none left that would
-- cancel it, goes back to 'blocked' (its DependencyFailedError entry removed) and undoes its own
-- cancellation on its dependants in turn, which fires this trigger for them. Nodes cancelled by a
-- user (no DependencyFailedError as their last error) and nodes of a cancelled workflow stay as
-- they are. Row locks: the dependants' workflow_nodes rows in job id order, as the fan-in takes them.
--
-- Independent of 0011 and 0012: it only adds a function and a trigger.

CREATE FUNCTION {{schema}}.workflow_revive()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  pol text;
  wf_cancelled timestamptz;
  revived_id bigint;
BEGIN
  SELECT w.policy, w.cancelled_at INTO pol, wf_cancelled FROM {{schema}}.workflows AS w WHERE w.id = NEW.workflow_id;
  IF wf_cancelled IS NOT NULL OR (NEW.failed > 0 AND (pol = 'cancel' OR NEW.input = 'value')) THEN
    RETURN NULL;
  END IF;
  UPDATE {{schema}}.jobs AS j
  SET state = 'blocked', finished_at = NULL, delete_after = NULL, cancel_requested_at = NULL,
      errors = j.errors - (-1)
  WHERE j.id = NEW.job_id AND j.state = 'cancelled' AND j.errors -> -1 ->> 'name' = 'DependencyFailedError'
  RETURNING j.id INTO revived_id;
  IF revived_id IS NOT NULL THEN
    WITH e AS (
      SELECT d.job_id, count(*)::integer AS n
      FROM {{schema}}.job_dependencies AS d WHERE d.parent_id = revived_id
      GROUP BY d.job_id
    ),
    l AS MATERIALIZED (
      SELECT n.job_id FROM {{schema}}.workflow_nodes AS n
      WHERE n.job_id IN (SELECT e.job_id FROM e) ORDER BY n.job_id FOR UPDATE
    )
    UPDATE {{schema}}.workflow_nodes AS n
    SET pending = n.pending + e.n, failed = n.failed - e.n
    FROM e, l
    WHERE n.job_id = e.job_id AND l.job_id = e.job_id;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER workflow_nodes_revive AFTER UPDATE ON {{schema}}.workflow_nodes
  FOR EACH ROW WHEN (NEW.failed < OLD.failed)
  EXECUTE FUNCTION {{schema}}.workflow_revive();

REVOKE ALL ON FUNCTION {{schema}}.workflow_revive() FROM PUBLIC;
