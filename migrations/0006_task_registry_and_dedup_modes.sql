-- pgq 0006: the task registry, task defaults for every way of enqueueing, JSON null payloads, and
-- dedup modes that never drop work silently (replace while running, debounce, throttle).
--
--   tasks          one row per task a worker has run: its defaults (queue, priority, attempts), its
--                  backoff and time limits, its payload JSON schema when it has one, and when and by
--                  which worker it was last seen. Upserted by every worker at start.
--   jobs.followup  a payload enqueued with dedup_mode replace/debounce while the job holding its
--                  dedup key was running: it becomes a new job once that job leaves `running` for good
--                  (triggers below), so the newer payload runs after the running one.
--   dedup_windows  throttle windows: one row per (task, dedup_key), the database is the clock.
--   unknown_tasks  a view of waiting jobs whose task no worker has registered (nothing can run them).
--
-- enqueue_many() and enqueue() are replaced (renamed, recreated, grants copied, old ones dropped):
-- the outcome column is new, enqueue() gains dedup_window and takes queue/priority from the task.
-- See docs/sql-enqueue.md and docs/schema.md.

CREATE TABLE {{schema}}.tasks (
  name                   text        PRIMARY KEY,
  queue                  text        NOT NULL,
  priority               smallint    NOT NULL DEFAULT 0,
  max_attempts           smallint    NOT NULL DEFAULT 5,
  -- informational (the worker that runs the task applies them): retry backoff, time limits
  backoff                jsonb       NOT NULL DEFAULT '{}'::jsonb,
  timeout_ms             integer,
  hard_timeout_grace_ms  integer,
  dead_letter_queue      text,
  -- the task's payload JSON Schema when its definition gives one; not enforced by SQL
  payload_schema         jsonb,
  -- true when the task validates payloads (its definition has parsePayload)
  validates_payload      boolean     NOT NULL DEFAULT false,
  first_seen_at          timestamptz NOT NULL DEFAULT now(),
  last_seen_at           timestamptz NOT NULL DEFAULT now(),
  last_seen_by           uuid,
  last_seen_hostname     text,
  CONSTRAINT tasks_name_check CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT tasks_queue_check CHECK (queue ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT tasks_max_attempts_check CHECK (max_attempts >= 1)
);

COMMENT ON TABLE {{schema}}.tasks IS
  'pgq task registry: the defaults SQL, CLI and TypeScript enqueue apply. Upserted by workers at start. See docs/schema.md.';

ALTER TABLE {{schema}}.jobs ADD COLUMN followup jsonb;

COMMENT ON COLUMN {{schema}}.jobs.followup IS
  'pgq: a newer payload for this dedup key, enqueued while this job ran; becomes a job when this one finishes.';

CREATE TABLE {{schema}}.dedup_windows (
  task       text        NOT NULL,
  dedup_key  text        NOT NULL,
  until      timestamptz NOT NULL,
  job_id     bigint,
  PRIMARY KEY (task, dedup_key)
);

CREATE INDEX dedup_windows_until_idx ON {{schema}}.dedup_windows (until);

COMMENT ON TABLE {{schema}}.dedup_windows IS
  'pgq throttle windows: until when a (task, dedup_key) is throttled, and the job that opened the window.';

-- A follow-up payload becomes a job once the job that held its dedup key is final (or deleted).
-- Should a live job hold the key by then, a waiting one takes the newer payload.
CREATE FUNCTION {{schema}}.release_followup()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f jsonb := OLD.followup;
  due timestamptz := greatest((OLD.followup->>'run_at')::timestamptz, now());
BEGIN
  INSERT INTO {{schema}}.jobs AS j (
    task, payload, queue, priority, run_at, max_attempts, max_interruptions, dedup_key, meta
  ) VALUES (
    OLD.task, f->'payload', f->>'queue', (f->>'priority')::smallint, due,
    (f->>'max_attempts')::smallint, (f->>'max_interruptions')::smallint, OLD.dedup_key,
    coalesce(f->'meta', '{}'::jsonb)
  )
  ON CONFLICT (task, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('available', 'running')
    DO UPDATE SET payload = excluded.payload, queue = excluded.queue, priority = excluded.priority,
      run_at = excluded.run_at, max_attempts = excluded.max_attempts, meta = excluded.meta
    WHERE j.state = 'available';
  PERFORM pg_notify('{{schema_name}}:jobs', (f->>'queue') || CASE WHEN due > now()
    THEN '@' || floor(extract(epoch FROM due) * 1000)::bigint::text ELSE '' END);
  RETURN NULL;
END
$fn$;

CREATE FUNCTION {{schema}}.clear_followup()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  NEW.followup := NULL;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER jobs_followup_clear BEFORE UPDATE OF state ON {{schema}}.jobs
  FOR EACH ROW WHEN (OLD.followup IS NOT NULL AND NEW.state IN ('succeeded', 'failed', 'cancelled'))
  EXECUTE FUNCTION {{schema}}.clear_followup();

CREATE TRIGGER jobs_followup_release AFTER UPDATE OF state ON {{schema}}.jobs
  FOR EACH ROW WHEN (OLD.followup IS NOT NULL AND NEW.state IN ('succeeded', 'failed', 'cancelled'))
  EXECUTE FUNCTION {{schema}}.release_followup();

CREATE TRIGGER jobs_followup_release_on_delete AFTER DELETE ON {{schema}}.jobs
  FOR EACH ROW WHEN (OLD.followup IS NOT NULL)
  EXECUTE FUNCTION {{schema}}.release_followup();

-- Keep the old functions under other names until their grants are copied to the new ones.
ALTER FUNCTION {{schema}}.enqueue_many(jsonb) RENAME TO enqueue_many_0004;
ALTER FUNCTION {{schema}}.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text)
  RENAME TO enqueue_0004;

CREATE FUNCTION {{schema}}.enqueue_many(jobs jsonb)
RETURNS TABLE (ord integer, id bigint, deduplicated boolean, outcome text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  r record;
  found_id bigint;
  found_outcome text;
  claimed boolean;
  tries integer;
  bad_ord bigint;
  bad_window_ord bigint;
  names text[];
  bad_name text;
  done_ords integer[];
  done_ids bigint[];
  dup_ords integer[] := '{}';
  dup_ids bigint[] := '{}';
  dup_outcomes text[] := '{}';
  leftovers jsonb;
  throttled_any boolean := false;
BEGIN
  IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN
    RAISE EXCEPTION 'pgq: enqueue_many expects a JSON array of job objects' USING ERRCODE = '22023';
  END IF;
  -- One pass over the batch: its shape and its distinct names (each distinct name is matched once).
  SELECT
    min(e.ord) FILTER (WHERE jsonb_typeof(e.elem) <> 'object'
                          OR jsonb_typeof(e.elem->'task') IS DISTINCT FROM 'string'
                          OR coalesce(e.elem->>'dedup_mode', 'keep') NOT IN ('keep', 'replace', 'debounce', 'throttle')),
    min(e.ord) FILTER (WHERE e.elem->>'dedup_mode' IN ('debounce', 'throttle') AND (
                          jsonb_typeof(e.elem->'dedup_key') IS DISTINCT FROM 'string'
                          OR CASE WHEN jsonb_typeof(e.elem->'dedup_window_ms') = 'number'
                                  THEN (e.elem->>'dedup_window_ms')::double precision <= 0
                                  ELSE true END)),
    array_agg(DISTINCT e.elem->>'task') || array_agg(DISTINCT e.elem->>'queue')
  INTO bad_ord, bad_window_ord, names
  FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(elem, ord);
  IF bad_ord IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: job % of the batch is not an object with a task name (and dedup_mode keep|replace|debounce|throttle)', bad_ord
      USING ERRCODE = '22023';
  END IF;
  IF bad_window_ord IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: job % of the batch: dedup_mode debounce and throttle need a dedup_key and a dedup_window_ms > 0', bad_window_ord
      USING ERRCODE = '22023';
  END IF;
  SELECT n INTO bad_name FROM unnest(names) AS n WHERE n IS NOT NULL AND n !~ '^[A-Za-z0-9_.:-]{1,128}$' LIMIT 1;
  IF bad_name IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: task and queue names must be 1-128 characters of A-Z a-z 0-9 _ . : -, got %', quote_literal(bad_name)
      USING ERRCODE = '22023';
  END IF;

  -- One statement inserts every job it can: all of them when the batch has no dedup keys. Values
  -- left out take the registered task's defaults (pgq.tasks), then the global ones. A payload key
  -- that is present stays as given, JSON null included; a missing one is {}. Each job gets its id
  -- before the insert (nextval), so results map back to input positions.
  WITH input AS (
    SELECT e.ord::integer AS ord, e.elem ? 'payload' AS has_payload, x.*
    FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(elem, ord)
    CROSS JOIN LATERAL jsonb_to_record(e.elem) AS x(
      task text, payload jsonb, queue text, priority smallint, run_at timestamptz,
      delay_ms double precision, max_attempts smallint, max_interruptions smallint,
      dedup_key text, dedup_mode text, dedup_window_ms double precision, meta jsonb,
      schedule_name text, scheduled_for timestamptz
    )
  ),
  prepared AS MATERIALIZED (
    SELECT
      i.ord,
      i.task,
      CASE WHEN i.has_payload THEN coalesce(i.payload, 'null'::jsonb) ELSE '{}'::jsonb END AS payload,
      coalesce(i.queue, t.queue, 'default') AS queue,
      coalesce(i.priority, t.priority, 0::smallint) AS priority,
      coalesce(i.run_at, now()) + make_interval(secs => (coalesce(i.delay_ms, 0)
        + CASE WHEN i.dedup_mode = 'debounce' THEN i.dedup_window_ms ELSE 0 END) / 1000.0) AS run_at,
      coalesce(i.max_attempts, t.max_attempts, 5::smallint) AS max_attempts,
      coalesce(i.max_interruptions, 3::smallint) AS max_interruptions,
      i.dedup_key,
      coalesce(i.dedup_mode, 'keep') AS dedup_mode,
      i.dedup_window_ms,
      coalesce(i.meta, '{}'::jsonb) AS meta,
      i.schedule_name,
      i.scheduled_for,
      -- the first row of each (task, dedup_key) in this call is tried here, unless it throttles;
      -- the others go through the loop below
      i.dedup_key IS NULL
        OR (i.dedup_mode IS DISTINCT FROM 'throttle'
            AND i.ord = min(i.ord) OVER (PARTITION BY i.task, i.dedup_key)) AS is_first,
      nextval('{{schema}}.jobs_id_seq') AS new_id
    FROM input i
    LEFT JOIN {{schema}}.tasks t ON t.name = i.task
  ),
  inserted AS (
    INSERT INTO {{schema}}.jobs AS j (
      id, task, payload, queue, priority, run_at, max_attempts, max_interruptions,
      dedup_key, meta, schedule_name, scheduled_for
    ) OVERRIDING SYSTEM VALUE
    SELECT p.new_id, p.task, p.payload, p.queue, p.priority, p.run_at, p.max_attempts,
      p.max_interruptions, p.dedup_key, p.meta, p.schedule_name, p.scheduled_for
    FROM prepared p
    WHERE p.is_first
    ORDER BY p.ord
    ON CONFLICT (task, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('available', 'running')
      DO NOTHING
    RETURNING j.id, j.queue, j.run_at
  ),
  wakeups AS (
    SELECT count(pg_notify(
      '{{schema_name}}:jobs',
      w.queue || CASE WHEN w.first_run_at > now()
        THEN '@' || floor(extract(epoch FROM w.first_run_at) * 1000)::bigint::text ELSE '' END
    )) AS sent
    FROM (SELECT ins.queue, min(ins.run_at) AS first_run_at FROM inserted ins GROUP BY ins.queue) w
  )
  SELECT
    coalesce(array_agg(p.ord) FILTER (WHERE ins.id IS NOT NULL), '{}'),
    coalesce(array_agg(ins.id) FILTER (WHERE ins.id IS NOT NULL), '{}'),
    coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.ord) FILTER (WHERE ins.id IS NULL), '[]')
  INTO done_ords, done_ids, leftovers
  FROM prepared p
  CROSS JOIN wakeups
  LEFT JOIN inserted ins ON ins.id = p.new_id;

  -- The rest had a dedup key held by a live job (or by an earlier row of this batch), or throttle.
  -- Each statement sees the latest committed rows (READ COMMITTED); a job that finished meanwhile
  -- frees its key, so the loop tries again (a few times at most).
  FOR r IN
    SELECT * FROM jsonb_to_recordset(leftovers) AS x(
      ord integer, task text, payload jsonb, queue text, priority smallint, run_at timestamptz,
      max_attempts smallint, max_interruptions smallint, dedup_key text, dedup_mode text,
      dedup_window_ms double precision, meta jsonb, schedule_name text, scheduled_for timestamptz
    )
    ORDER BY x.ord
  LOOP
    tries := 0;
    found_id := NULL;
    found_outcome := NULL;
    claimed := NULL;
    IF r.dedup_mode = 'throttle' THEN
      throttled_any := true;
      -- Open the window unless one is open: the primary key serializes concurrent callers (the
      -- second waits for the first to commit, then sees its window).
      INSERT INTO {{schema}}.dedup_windows AS w (task, dedup_key, until)
      VALUES (r.task, r.dedup_key, now() + make_interval(secs => r.dedup_window_ms / 1000.0))
      ON CONFLICT (task, dedup_key) DO UPDATE SET until = excluded.until, job_id = NULL
        WHERE w.until <= now()
      RETURNING true INTO claimed;
      IF claimed IS NULL THEN
        SELECT w.job_id INTO found_id FROM {{schema}}.dedup_windows AS w
        WHERE w.task = r.task AND w.dedup_key = r.dedup_key;
        found_outcome := 'throttled';
      END IF;
    END IF;

    WHILE found_outcome IS NULL LOOP
      tries := tries + 1;
      IF r.dedup_mode IN ('replace', 'debounce') THEN
        -- a waiting job takes the newer payload (and a follow-up it carried is superseded)
        UPDATE {{schema}}.jobs AS j
        SET payload = r.payload, run_at = r.run_at, priority = r.priority, queue = r.queue,
            max_attempts = r.max_attempts, meta = r.meta, followup = NULL
        WHERE j.task = r.task AND j.dedup_key = r.dedup_key AND j.state = 'available'
        RETURNING j.id INTO found_id;
        IF found_id IS NOT NULL THEN
          PERFORM pg_notify('{{schema_name}}:jobs', r.queue);
          found_outcome := 'replaced';
          EXIT;
        END IF;
        -- a running job keeps running; the newer payload runs after it (see release_followup)
        UPDATE {{schema}}.jobs AS j
        SET followup = jsonb_build_object(
              'payload', r.payload, 'queue', r.queue, 'priority', r.priority, 'run_at', r.run_at,
              'max_attempts', r.max_attempts, 'max_interruptions', r.max_interruptions, 'meta', r.meta)
        WHERE j.task = r.task AND j.dedup_key = r.dedup_key AND j.state = 'running'
        RETURNING j.id INTO found_id;
        IF found_id IS NOT NULL THEN
          found_outcome := 'queued_after';
          EXIT;
        END IF;
      ELSE
        SELECT j.id INTO found_id FROM {{schema}}.jobs AS j
        WHERE j.task = r.task AND j.dedup_key = r.dedup_key AND j.state IN ('available', 'running');
        IF found_id IS NOT NULL THEN
          found_outcome := CASE WHEN r.dedup_mode = 'throttle' THEN 'throttled' ELSE 'deduplicated' END;
          EXIT;
        END IF;
      END IF;

      INSERT INTO {{schema}}.jobs AS j (
        task, payload, queue, priority, run_at, max_attempts, max_interruptions,
        dedup_key, meta, schedule_name, scheduled_for
      ) VALUES (
        r.task, r.payload, r.queue, r.priority, r.run_at, r.max_attempts, r.max_interruptions,
        r.dedup_key, r.meta, r.schedule_name, r.scheduled_for
      )
      ON CONFLICT (task, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('available', 'running')
        DO NOTHING
      RETURNING j.id INTO found_id;
      IF found_id IS NOT NULL THEN
        PERFORM pg_notify('{{schema_name}}:jobs', r.queue || CASE WHEN r.run_at > now()
          THEN '@' || floor(extract(epoch FROM r.run_at) * 1000)::bigint::text ELSE '' END);
        found_outcome := 'created';
        EXIT;
      END IF;

      IF tries >= 10 THEN
        RAISE EXCEPTION 'pgq: could not settle dedup key % of task % after % tries', r.dedup_key, r.task, tries
          USING ERRCODE = '40001';
      END IF;
    END LOOP;

    IF r.dedup_mode = 'throttle' AND claimed IS NOT NULL THEN
      UPDATE {{schema}}.dedup_windows AS w SET job_id = found_id
      WHERE w.task = r.task AND w.dedup_key = r.dedup_key;
    END IF;
    IF found_outcome = 'created' THEN
      done_ords := done_ords || r.ord; done_ids := done_ids || found_id;
    ELSE
      dup_ords := dup_ords || r.ord; dup_ids := dup_ids || found_id; dup_outcomes := dup_outcomes || found_outcome;
    END IF;
  END LOOP;

  -- Expired throttle windows are dropped a few at a time by throttling callers (an expired window
  -- and a missing one mean the same).
  IF throttled_any THEN
    DELETE FROM {{schema}}.dedup_windows AS w
    WHERE w.ctid = ANY (ARRAY(
      SELECT x.ctid FROM {{schema}}.dedup_windows AS x WHERE x.until < now()
      LIMIT 100 FOR UPDATE SKIP LOCKED));
  END IF;

  RETURN QUERY
    SELECT d.o, d.i, false, 'created'::text FROM unnest(done_ords, done_ids) AS d(o, i)
    UNION ALL
    SELECT d.o, d.i, true, d.c FROM unnest(dup_ords, dup_ids, dup_outcomes) AS d(o, i, c)
    ORDER BY 1;
END
$fn$;

COMMENT ON FUNCTION {{schema}}.enqueue_many(jsonb) IS
  'Enqueue a JSON array of jobs in one statement; returns (ord, id, deduplicated, outcome) per input element. See docs/sql-enqueue.md.';

CREATE FUNCTION {{schema}}.enqueue(
  task text,
  payload jsonb DEFAULT '{}'::jsonb,
  queue text DEFAULT NULL,
  priority integer DEFAULT NULL,
  run_at timestamptz DEFAULT NULL,
  delay interval DEFAULT NULL,
  max_attempts integer DEFAULT NULL,
  dedup_key text DEFAULT NULL,
  dedup_mode text DEFAULT 'keep',
  dedup_window interval DEFAULT NULL
) RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT e.id FROM {{schema}}.enqueue_many(jsonb_build_array(jsonb_build_object(
    'task', task,
    'payload', coalesce(payload, 'null'::jsonb),
    'queue', queue,
    'priority', priority,
    'run_at', run_at,
    'delay_ms', extract(epoch FROM delay) * 1000,
    'max_attempts', max_attempts,
    'dedup_key', dedup_key,
    'dedup_mode', dedup_mode,
    'dedup_window_ms', extract(epoch FROM dedup_window) * 1000
  ))) AS e
$fn$;

COMMENT ON FUNCTION {{schema}}.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text, interval) IS
  'Enqueue one job and return its id (with a dedup_key: the id of the job that holds the key when none was created). See docs/sql-enqueue.md.';

REVOKE ALL ON FUNCTION {{schema}}.enqueue_many(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.release_followup() FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.clear_followup() FROM PUBLIC;
REVOKE ALL ON {{schema}}.tasks, {{schema}}.dedup_windows FROM PUBLIC;

-- Roles that could run the old functions can run the new ones; then the old ones go.
DO $do$
DECLARE
  g record;
BEGIN
  FOR g IN
    SELECT DISTINCT a.grantee::regrole::text AS grantee, f.new_fn
    FROM (VALUES
      ('{{schema}}.enqueue_many_0004(jsonb)'::regprocedure, '{{schema}}.enqueue_many(jsonb)'),
      ('{{schema}}.enqueue_0004(text, jsonb, text, integer, timestamptz, interval, integer, text, text)'::regprocedure,
       '{{schema}}.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text, interval)')
    ) AS f(old_fn, new_fn)
    JOIN pg_catalog.pg_proc p ON p.oid = f.old_fn
    CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
    WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', g.new_fn, g.grantee);
  END LOOP;
  -- Every enqueue now reads pgq.tasks, and workers write it: roles that could insert jobs
  -- (producers, workers) may read the registry and use throttle windows; roles that could update
  -- jobs (workers) may register tasks. Without this an upgrade would lock them out.
  FOR g IN
    SELECT a.grantee::regrole::text AS grantee, bool_or(a.privilege_type = 'UPDATE') AS updates
    FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
    WHERE c.oid = '{{schema}}.jobs'::regclass AND a.privilege_type IN ('INSERT', 'UPDATE')
      AND a.grantee <> 0 AND a.grantee <> c.relowner
    GROUP BY a.grantee
    HAVING bool_or(a.privilege_type = 'INSERT')
  LOOP
    EXECUTE format('GRANT SELECT ON {{schema}}.tasks TO %s', g.grantee);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON {{schema}}.dedup_windows TO %s', g.grantee);
    IF g.updates THEN
      EXECUTE format('GRANT INSERT, UPDATE ON {{schema}}.tasks TO %s', g.grantee);
    END IF;
  END LOOP;
END
$do$;

DROP FUNCTION {{schema}}.enqueue_many_0004(jsonb);
DROP FUNCTION {{schema}}.enqueue_0004(text, jsonb, text, integer, timestamptz, interval, integer, text, text);

-- Waiting jobs whose task no worker has registered: nothing will run them until a worker with that
-- task starts (a typo in a task name, a task removed from the code, a worker not deployed yet).
CREATE VIEW {{schema}}.unknown_tasks AS
SELECT
  j.task,
  j.queue,
  count(*)::bigint AS waiting,
  min(j.created_at) AS oldest_created_at
FROM {{schema}}.jobs AS j
WHERE j.state = 'available'
  AND NOT EXISTS (SELECT 1 FROM {{schema}}.tasks AS t WHERE t.name = j.task)
GROUP BY j.task, j.queue;

COMMENT ON VIEW {{schema}}.unknown_tasks IS
  'pgq: waiting jobs per (task, queue) whose task no worker has registered in pgq.tasks: nothing can run them.';

REVOKE ALL ON {{schema}}.unknown_tasks FROM PUBLIC;
