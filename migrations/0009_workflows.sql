-- pgq 0009: workflows (chain, group, chord) whose nodes are ordinary jobs.
--
--   jobs.workflow_id      the workflow a job is a node of; NULL for plain jobs (no default, so adding
--                         it rewrites nothing). Indexed only where it is set.
--   jobs.state 'blocked'  a node waiting on its parents: never claimed (the claim index covers only
--                         'available'); it becomes 'available' in the statement that finishes its last
--                         parent, or 'cancelled' when a parent failed for good.
--   workflows             one row per workflow: failure policy, its output nodes, cancel time.
--   workflow_nodes        one row per node that has parents: parents still pending, parents failed,
--                         how its input is built (value = the one parent's result, list = the
--                         parents' results in order). The fan-in counter lives here, not on jobs.
--   job_dependencies      the edges (parent -> dependant, position of the parent in the input).
--   workflow_jobs         a view: every node with its workflow, state and parents.
--   create_workflow()     creates a whole graph in one call (what the TypeScript client uses);
--   create_chain(), create_group()  the same for the two common shapes. See docs/workflows.md.

ALTER TABLE {{schema}}.jobs ADD COLUMN workflow_id bigint;

ALTER TABLE {{schema}}.jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE {{schema}}.jobs ADD CONSTRAINT jobs_state_check
  CHECK (state IN ('blocked', 'available', 'running', 'succeeded', 'failed', 'cancelled')) NOT VALID;
ALTER TABLE {{schema}}.jobs VALIDATE CONSTRAINT jobs_state_check;

-- Partial: plain jobs are not in it and pay nothing for it.
CREATE INDEX jobs_workflow_idx ON {{schema}}.jobs (workflow_id, id) WHERE workflow_id IS NOT NULL;

COMMENT ON COLUMN {{schema}}.jobs.workflow_id IS
  'pgq: the workflow this job is a node of (docs/workflows.md); NULL for plain jobs.';

CREATE TABLE {{schema}}.workflows (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text,
  -- cancel: a node that fails for good cancels its dependants; continue: list inputs get a
  -- {ok, result | error} per parent instead
  policy       text        NOT NULL DEFAULT 'cancel',
  -- the nodes whose results are the workflow's result; output_list: an array of them (a group)
  output_ids   bigint[]    NOT NULL DEFAULT '{}',
  output_list  boolean     NOT NULL DEFAULT false,
  -- every node's job id, in creation order
  node_ids     bigint[]    NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  cancelled_at timestamptz,
  CONSTRAINT workflows_policy_check CHECK (policy IN ('cancel', 'continue')),
  CONSTRAINT workflows_name_check CHECK (name IS NULL OR length(name) BETWEEN 1 AND 256)
);

CREATE INDEX workflows_created_at_idx ON {{schema}}.workflows (created_at);

COMMENT ON TABLE {{schema}}.workflows IS 'pgq workflows: one row per chain/group/chord graph. See docs/workflows.md.';

CREATE TABLE {{schema}}.workflow_nodes (
  job_id       bigint  PRIMARY KEY,
  workflow_id  bigint  NOT NULL REFERENCES {{schema}}.workflows (id) ON DELETE CASCADE,
  pending      integer NOT NULL,
  failed       integer NOT NULL DEFAULT 0,
  input        text    NOT NULL,
  CONSTRAINT workflow_nodes_input_check CHECK (input IN ('value', 'list')),
  CONSTRAINT workflow_nodes_pending_check CHECK (pending >= 0)
);

CREATE INDEX workflow_nodes_workflow_idx ON {{schema}}.workflow_nodes (workflow_id);

COMMENT ON TABLE {{schema}}.workflow_nodes IS
  'pgq: workflow nodes that wait on parents, with the fan-in counter (pending parents). See docs/workflows.md.';

CREATE TABLE {{schema}}.job_dependencies (
  parent_id    bigint  NOT NULL,
  job_id       bigint  NOT NULL REFERENCES {{schema}}.workflow_nodes (job_id) ON DELETE CASCADE,
  position     integer NOT NULL,
  PRIMARY KEY (parent_id, job_id)
);

CREATE INDEX job_dependencies_job_idx ON {{schema}}.job_dependencies (job_id, position);

COMMENT ON TABLE {{schema}}.job_dependencies IS
  'pgq: workflow edges: job_id runs after parent_id; position orders the parents'' results in its input.';

-- Fires at the end of the statement that counted a parent down (so the parents' results written by
-- that statement are visible): the node whose last parent finished becomes available with its
-- input as payload, exactly once (the counter row is locked; only one update brings it to 0). A
-- failed parent cancels the node (policy cancel, or a value input that has no value), and the
-- cancel counts down the node's own dependants.
CREATE FUNCTION {{schema}}.workflow_settle()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  pol text;
  inp jsonb;
  q text;
  cancelled_id bigint;
BEGIN
  SELECT w.policy INTO pol FROM {{schema}}.workflows AS w WHERE w.id = NEW.workflow_id;
  IF NEW.failed > 0 AND (pol = 'cancel' OR NEW.input = 'value') THEN
    UPDATE {{schema}}.jobs AS j
    SET state = 'cancelled', finished_at = now(), cancel_requested_at = coalesce(j.cancel_requested_at, now()),
        delete_after = now() + interval '7 days',
        errors = j.errors || jsonb_build_array(jsonb_build_object(
          'attempt', j.attempts, 'at', now(), 'name', 'DependencyFailedError',
          'message', 'a job this job depends on failed or was cancelled'))
    WHERE j.id = NEW.job_id AND j.state = 'blocked'
    RETURNING j.id INTO cancelled_id;
    IF cancelled_id IS NOT NULL THEN
      PERFORM pg_notify('{{schema_name}}:events', 'finished:' || cancelled_id::text);
      -- count the cancelled node down on its own dependants (locks in job_id order), which fires
      -- this trigger for them in turn; the worker's statements do the same inline
      -- (packages/pgq/src/sql/workflow-queries.ts)
      WITH e AS (
        SELECT d.job_id, count(*)::integer AS n
        FROM {{schema}}.job_dependencies AS d WHERE d.parent_id = cancelled_id
        GROUP BY d.job_id
      ),
      l AS MATERIALIZED (
        SELECT n.job_id FROM {{schema}}.workflow_nodes AS n
        WHERE n.job_id IN (SELECT e.job_id FROM e) ORDER BY n.job_id FOR UPDATE
      )
      UPDATE {{schema}}.workflow_nodes AS n
      SET pending = n.pending - e.n, failed = n.failed + e.n
      FROM e, l
      WHERE n.job_id = e.job_id AND l.job_id = e.job_id;
    END IF;
    RETURN NULL;
  END IF;
  IF NEW.pending > 0 THEN
    RETURN NULL;
  END IF;
  IF NEW.input = 'value' THEN
    SELECT p.result INTO inp
    FROM {{schema}}.job_dependencies AS d JOIN {{schema}}.jobs AS p ON p.id = d.parent_id
    WHERE d.job_id = NEW.job_id ORDER BY d.position LIMIT 1;
  ELSIF pol = 'continue' THEN
    SELECT coalesce(jsonb_agg(CASE WHEN p.state = 'succeeded'
             THEN jsonb_build_object('ok', true, 'result', coalesce(p.result, 'null'::jsonb))
             ELSE jsonb_build_object('ok', false, 'error', coalesce(p.errors -> -1,
               jsonb_build_object('name', 'JobCancelledError', 'message', 'the job was cancelled')))
             END ORDER BY d.position), '[]'::jsonb) INTO inp
    FROM {{schema}}.job_dependencies AS d JOIN {{schema}}.jobs AS p ON p.id = d.parent_id
    WHERE d.job_id = NEW.job_id;
  ELSE
    SELECT coalesce(jsonb_agg(coalesce(p.result, 'null'::jsonb) ORDER BY d.position), '[]'::jsonb) INTO inp
    FROM {{schema}}.job_dependencies AS d JOIN {{schema}}.jobs AS p ON p.id = d.parent_id
    WHERE d.job_id = NEW.job_id;
  END IF;
  UPDATE {{schema}}.jobs AS j
  SET state = 'available', payload = coalesce(inp, 'null'::jsonb), run_at = greatest(j.run_at, now())
  WHERE j.id = NEW.job_id AND j.state = 'blocked'
  RETURNING j.queue INTO q;
  IF q IS NOT NULL THEN
    PERFORM pg_notify('{{schema_name}}:jobs', q);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER workflow_nodes_settle AFTER UPDATE ON {{schema}}.workflow_nodes
  FOR EACH ROW WHEN (NEW.pending = 0 OR NEW.failed > OLD.failed)
  EXECUTE FUNCTION {{schema}}.workflow_settle();

-- Creates a workflow in one call: nodes is a JSON array of enqueue_many() objects (task, payload,
-- queue, priority, max_attempts, ...; no dedup_key) each with an optional "after": the 0-based
-- positions of earlier nodes it runs after, and "input": "value" | "list" (default: value for one
-- parent, list for several). Nodes without parents are available at commit; the others blocked.
-- output_nodes: positions of the nodes whose results are the workflow's result (default: the nodes
-- no other node runs after); output_is_list: whether that result is an array (default: more than one).
CREATE FUNCTION {{schema}}.create_workflow(
  nodes jsonb,
  policy text DEFAULT 'cancel',
  name text DEFAULT NULL,
  output_nodes integer[] DEFAULT NULL,
  output_is_list boolean DEFAULT NULL
)
RETURNS TABLE (workflow_id bigint, node integer, job_id bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  wf bigint;
  bad integer;
  ids bigint[];
  outs integer[];
BEGIN
  IF nodes IS NULL OR jsonb_typeof(nodes) <> 'array' OR jsonb_array_length(nodes) = 0 THEN
    RAISE EXCEPTION 'pgq: create_workflow expects a non-empty JSON array of nodes' USING ERRCODE = '22023';
  END IF;
  IF policy IS NULL OR policy NOT IN ('cancel', 'continue') THEN
    RAISE EXCEPTION 'pgq: workflow policy must be cancel or continue, got %', quote_nullable(policy) USING ERRCODE = '22023';
  END IF;
  -- Each node's parents must come before it (so the graph has no cycle), input must be value|list,
  -- and dedup keys are refused (a deduplicated node would not be part of the graph).
  SELECT min(e.ord) INTO bad
  FROM jsonb_array_elements(nodes) WITH ORDINALITY AS e(elem, ord)
  WHERE jsonb_typeof(e.elem) <> 'object'
     OR e.elem ? 'dedup_key'
     OR (e.elem ? 'after' AND (jsonb_typeof(e.elem->'after') <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(e.elem->'after') AS a(v)
           WHERE jsonb_typeof(a.v) <> 'number' OR (a.v)::text::integer < 0 OR (a.v)::text::integer >= e.ord - 1)))
     OR coalesce(e.elem->>'input', 'value') NOT IN ('value', 'list');
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: workflow node % (1-based) is invalid: "after" must list positions of earlier nodes, "input" value|list, no dedup_key', bad
      USING ERRCODE = '22023';
  END IF;

  INSERT INTO {{schema}}.workflows AS w (name, policy) VALUES (name, policy) RETURNING w.id INTO wf;

  SELECT array_agg(m.id ORDER BY m.ord) INTO ids
  FROM {{schema}}.enqueue_many((
    SELECT jsonb_agg((e.elem - 'after' - 'input') ORDER BY e.ord)
    FROM jsonb_array_elements(nodes) WITH ORDINALITY AS e(elem, ord)
  )) AS m;

  UPDATE {{schema}}.jobs AS j
  SET workflow_id = wf,
      state = CASE WHEN jsonb_array_length(coalesce(e.elem->'after', '[]'::jsonb)) > 0 THEN 'blocked' ELSE 'available' END
  FROM jsonb_array_elements(nodes) WITH ORDINALITY AS e(elem, ord)
  WHERE j.id = ids[e.ord];

  INSERT INTO {{schema}}.workflow_nodes (job_id, workflow_id, pending, input)
  SELECT ids[e.ord], wf, jsonb_array_length(e.elem->'after'),
    coalesce(e.elem->>'input', CASE WHEN jsonb_array_length(e.elem->'after') = 1 THEN 'value' ELSE 'list' END)
  FROM jsonb_array_elements(nodes) WITH ORDINALITY AS e(elem, ord)
  WHERE jsonb_array_length(coalesce(e.elem->'after', '[]'::jsonb)) > 0;

  INSERT INTO {{schema}}.job_dependencies (parent_id, job_id, position)
  SELECT ids[(a.v)::text::integer + 1], ids[e.ord], a.pos::integer
  FROM jsonb_array_elements(nodes) WITH ORDINALITY AS e(elem, ord)
  CROSS JOIN LATERAL jsonb_array_elements(coalesce(e.elem->'after', '[]'::jsonb)) WITH ORDINALITY AS a(v, pos)
  ON CONFLICT DO NOTHING;

  outs := coalesce(output_nodes, ARRAY(
    SELECT (e.ord - 1)::integer FROM jsonb_array_elements(nodes) WITH ORDINALITY AS e(elem, ord)
    WHERE NOT EXISTS (
      SELECT 1 FROM jsonb_array_elements(nodes) AS o(elem)
      CROSS JOIN LATERAL jsonb_array_elements(coalesce(o.elem->'after', '[]'::jsonb)) AS a(v)
      WHERE (a.v)::text::integer = e.ord - 1)
    ORDER BY e.ord));
  UPDATE {{schema}}.workflows AS w
  SET output_ids = ARRAY(SELECT ids[o + 1] FROM unnest(outs) WITH ORDINALITY AS x(o, k) ORDER BY x.k),
      output_list = coalesce(output_is_list, cardinality(outs) > 1),
      node_ids = ids
  WHERE w.id = wf;

  RETURN QUERY SELECT wf, (x.k - 1)::integer, x.id FROM unnest(ids) WITH ORDINALITY AS x(id, k) ORDER BY x.k;
END
$fn$;

COMMENT ON FUNCTION {{schema}}.create_workflow(jsonb, text, text, integer[], boolean) IS
  'pgq: create a workflow (nodes with "after" parents) in one call; returns (workflow_id, node, job_id). See docs/workflows.md.';

-- A chain: each step runs after the previous one and receives its result as payload.
CREATE FUNCTION {{schema}}.create_chain(steps jsonb, policy text DEFAULT 'cancel', name text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT DISTINCT c.workflow_id FROM {{schema}}.create_workflow(
    (SELECT jsonb_agg(CASE WHEN s.ord = 1 THEN s.elem
                           ELSE s.elem || jsonb_build_object('after', jsonb_build_array(s.ord - 2), 'input', 'value') END
                      ORDER BY s.ord)
     FROM jsonb_array_elements(steps) WITH ORDINALITY AS s(elem, ord)),
    policy, name) AS c
$fn$;

-- A group: members run in parallel; with a callback (a chord), the callback runs once after all of
-- them and receives their results in member order.
CREATE FUNCTION {{schema}}.create_group(
  members jsonb, callback jsonb DEFAULT NULL, policy text DEFAULT 'cancel', name text DEFAULT NULL
)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT DISTINCT c.workflow_id FROM {{schema}}.create_workflow(
    CASE WHEN callback IS NULL THEN members
         ELSE members || jsonb_build_array(callback || jsonb_build_object(
           'after', (SELECT jsonb_agg(g.i) FROM generate_series(0, jsonb_array_length(members) - 1) AS g(i)),
           'input', 'list')) END,
    policy, name, NULL, CASE WHEN callback IS NULL THEN true ELSE false END) AS c
$fn$;

COMMENT ON FUNCTION {{schema}}.create_chain(jsonb, text, text) IS
  'pgq: create a chain of jobs (each gets the previous result as payload); returns the workflow id. See docs/workflows.md.';
COMMENT ON FUNCTION {{schema}}.create_group(jsonb, jsonb, text, text) IS
  'pgq: create a group of jobs, with an optional chord callback; returns the workflow id. See docs/workflows.md.';

CREATE VIEW {{schema}}.workflow_jobs AS
SELECT
  j.workflow_id,
  j.id AS job_id,
  j.task,
  j.queue,
  j.state,
  j.attempts,
  ARRAY(SELECT d.parent_id FROM {{schema}}.job_dependencies AS d WHERE d.job_id = j.id ORDER BY d.position) AS parent_ids,
  n.pending AS pending_parents,
  j.created_at,
  j.started_at,
  j.finished_at
FROM {{schema}}.jobs AS j
LEFT JOIN {{schema}}.workflow_nodes AS n ON n.job_id = j.id
WHERE j.workflow_id IS NOT NULL;

COMMENT ON VIEW {{schema}}.workflow_jobs IS
  'pgq: every workflow node (a job) with its workflow, state and parents. See docs/workflows.md.';

REVOKE ALL ON {{schema}}.workflows, {{schema}}.workflow_nodes, {{schema}}.job_dependencies, {{schema}}.workflow_jobs
  FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.create_workflow(jsonb, text, text, integer[], boolean),
  {{schema}}.create_chain(jsonb, text, text), {{schema}}.create_group(jsonb, jsonb, text, text),
  {{schema}}.workflow_settle()
  FROM PUBLIC;

-- The worker's finalize and rescue statements and the admin cancel now count workflow nodes down:
-- roles that could update jobs (workers, admin tools) get what those statements, the settle
-- trigger and the pruner (empty workflows) touch, so an upgrade locks no worker out. Creating workflows is granted explicitly
-- (docs/workflows.md#from-sql).
DO $do$
DECLARE
  g record;
BEGIN
  FOR g IN
    SELECT DISTINCT a.grantee::regrole::text AS grantee
    FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
    WHERE c.oid = '{{schema}}.jobs'::regclass AND a.privilege_type = 'UPDATE'
      AND a.grantee <> 0 AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT SELECT, UPDATE, DELETE ON {{schema}}.workflows, {{schema}}.workflow_nodes TO %s', g.grantee);
    EXECUTE format('GRANT DELETE ON {{schema}}.job_dependencies TO %s', g.grantee);
    EXECUTE format('GRANT SELECT ON {{schema}}.job_dependencies, {{schema}}.workflow_jobs TO %s', g.grantee);
  END LOOP;
END
$do$;
