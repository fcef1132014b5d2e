-- pgq 0004: enqueue from SQL. enqueue_many() owns the insert semantics (defaults, deduplication,
-- NOTIFY); enqueue() is its one-job form with named parameters. The TypeScript client calls
-- enqueue_many() on the caller's connection, so a job enqueued from TypeScript, psql or a trigger
-- behaves the same, and commits or rolls back with the caller's transaction.
--
-- The NOTIFY goes to channel '<schema>:jobs' with the queue name as payload ('<queue>@<epoch ms>'
-- for a job due in the future), from the same transaction: it is delivered on COMMIT only.
--
-- No SECURITY DEFINER: the functions run with the caller's rights. EXECUTE is revoked from PUBLIC.

CREATE FUNCTION {{schema}}.enqueue_many(jobs jsonb)
RETURNS TABLE (ord integer, id bigint, deduplicated boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  r record;
  found_id bigint;
  tries integer;
  bad_ord bigint;
  names text[];
  bad_name text;
  done_ords integer[];
  done_ids bigint[];
  dup_ords integer[] := '{}';
  dup_ids bigint[] := '{}';
  leftovers jsonb;
BEGIN
  IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN
    RAISE EXCEPTION 'pgq: enqueue_many expects a JSON array of job objects' USING ERRCODE = '22023';
  END IF;
  -- One pass over the batch: its shape and its distinct names. Names are
  -- checked once per distinct value here (the table only checks their length), so a batch of
  -- 20,000 jobs of one task costs one regular-expression match, not 40,000.
  SELECT
    min(e.ord) FILTER (WHERE jsonb_typeof(e.elem) <> 'object'
                          OR jsonb_typeof(e.elem->'task') IS DISTINCT FROM 'string'
                          OR coalesce(e.elem->>'dedup_mode', 'keep') NOT IN ('keep', 'replace')),
    array_agg(DISTINCT e.elem->>'task') || array_agg(DISTINCT coalesce(e.elem->>'queue', 'default'))
  INTO bad_ord, names
  FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(elem, ord);
  IF bad_ord IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: job % of the batch is not an object with a task name (and dedup_mode keep|replace)', bad_ord
      USING ERRCODE = '22023';
  END IF;
  SELECT n INTO bad_name FROM unnest(names) AS n WHERE n IS NOT NULL AND n !~ '^[A-Za-z0-9_.:-]{1,128}$' LIMIT 1;
  IF bad_name IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: task and queue names must be 1-128 characters of A-Z a-z 0-9 _ . : -, got %', quote_literal(bad_name)
      USING ERRCODE = '22023';
  END IF;

  -- One statement inserts every job it can: all of them when the batch has no dedup keys. Each
  -- job gets its id before the insert (nextval), so results map back to input positions.
  WITH input AS (
    SELECT e.ord::integer AS ord, x.*
    FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(elem, ord)
    CROSS JOIN LATERAL jsonb_to_record(e.elem) AS x(
      task text, payload jsonb, queue text, priority smallint, run_at timestamptz,
      delay_ms double precision, max_attempts smallint, max_interruptions smallint,
      dedup_key text, dedup_mode text, meta jsonb, schedule_name text, scheduled_for timestamptz
    )
  ),
  prepared AS MATERIALIZED (
    SELECT
      i.ord,
      i.task,
      coalesce(i.payload, '{}'::jsonb) AS payload,
      coalesce(i.queue, 'default') AS queue,
      coalesce(i.priority, 0::smallint) AS priority,
      coalesce(i.run_at, now()) + make_interval(secs => coalesce(i.delay_ms, 0) / 1000.0) AS run_at,
      coalesce(i.max_attempts, 5::smallint) AS max_attempts,
      coalesce(i.max_interruptions, 3::smallint) AS max_interruptions,
      i.dedup_key,
      coalesce(i.dedup_mode, 'keep') AS dedup_mode,
      coalesce(i.meta, '{}'::jsonb) AS meta,
      i.schedule_name,
      i.scheduled_for,
      -- the first row of each (task, dedup_key) in this call is inserted; later ones are duplicates
      i.dedup_key IS NULL
        OR i.ord = min(i.ord) OVER (PARTITION BY i.task, i.dedup_key) AS is_first,
      nextval('{{schema}}.jobs_id_seq') AS new_id
    FROM input i
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
    coalesce(jsonb_agg(to_jsonb(p)) FILTER (WHERE ins.id IS NULL), '[]')
  INTO done_ords, done_ids, leftovers
  FROM prepared p
  CROSS JOIN wakeups
  LEFT JOIN inserted ins ON ins.id = p.new_id;

  -- The rest had a dedup key already held by a live job (or by an earlier row of this batch).
  FOR r IN
    SELECT * FROM jsonb_to_recordset(leftovers) AS x(
      ord integer, task text, payload jsonb, queue text, priority smallint, run_at timestamptz,
      max_attempts smallint, max_interruptions smallint, dedup_key text, dedup_mode text, meta jsonb,
      schedule_name text, scheduled_for timestamptz
    )
  LOOP
    -- A live job with this (task, dedup_key) exists (or committed while we waited on its insert).
    -- Keep it, or in 'replace' mode update it while it is still waiting. If it finished in the
    -- meantime, insert ours. Each statement sees the latest committed rows (READ COMMITTED).
    tries := 0;
    LOOP
      tries := tries + 1;
      found_id := NULL;
      IF r.dedup_mode = 'replace' THEN
        UPDATE {{schema}}.jobs AS j
        SET payload = r.payload, run_at = r.run_at, priority = r.priority, queue = r.queue,
            max_attempts = r.max_attempts, meta = r.meta
        WHERE j.task = r.task AND j.dedup_key = r.dedup_key AND j.state = 'available'
        RETURNING j.id INTO found_id;
        IF found_id IS NOT NULL THEN
          PERFORM pg_notify('{{schema_name}}:jobs', r.queue);
          EXIT;
        END IF;
      END IF;

      SELECT j.id INTO found_id FROM {{schema}}.jobs AS j
      WHERE j.task = r.task AND j.dedup_key = r.dedup_key AND j.state IN ('available', 'running');
      EXIT WHEN found_id IS NOT NULL;

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
        PERFORM pg_notify('{{schema_name}}:jobs', r.queue);
        done_ords := done_ords || r.ord; done_ids := done_ids || found_id;
        found_id := NULL;
        EXIT;
      END IF;

      IF tries >= 10 THEN
        RAISE EXCEPTION 'pgq: could not settle dedup key % of task % after % tries', r.dedup_key, r.task, tries
          USING ERRCODE = '40001';
      END IF;
    END LOOP;

    IF found_id IS NOT NULL THEN
      dup_ords := dup_ords || r.ord; dup_ids := dup_ids || found_id;
    END IF;
  END LOOP;

  RETURN QUERY
    SELECT d.o, d.i, false FROM unnest(done_ords, done_ids) AS d(o, i)
    UNION ALL
    SELECT d.o, d.i, true FROM unnest(dup_ords, dup_ids) AS d(o, i)
    ORDER BY 1;
END
$fn$;

COMMENT ON FUNCTION {{schema}}.enqueue_many(jsonb) IS
  'Enqueue a JSON array of jobs in one statement; returns (ord, id, deduplicated) per input element. See docs/sql-enqueue.md.';

CREATE FUNCTION {{schema}}.enqueue(
  task text,
  payload jsonb DEFAULT '{}'::jsonb,
  queue text DEFAULT 'default',
  priority integer DEFAULT 0,
  run_at timestamptz DEFAULT NULL,
  delay interval DEFAULT NULL,
  max_attempts integer DEFAULT NULL,
  dedup_key text DEFAULT NULL,
  dedup_mode text DEFAULT 'keep'
) RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT e.id FROM {{schema}}.enqueue_many(jsonb_build_array(jsonb_build_object(
    'task', task,
    'payload', payload,
    'queue', queue,
    'priority', priority,
    'run_at', run_at,
    'delay_ms', extract(epoch FROM delay) * 1000,
    'max_attempts', max_attempts,
    'dedup_key', dedup_key,
    'dedup_mode', dedup_mode
  ))) AS e
$fn$;

COMMENT ON FUNCTION {{schema}}.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text) IS
  'Enqueue one job and return its id (the existing job''s id when dedup_key matches a live job). See docs/sql-enqueue.md.';

REVOKE ALL ON FUNCTION {{schema}}.enqueue_many(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, text) FROM PUBLIC;
