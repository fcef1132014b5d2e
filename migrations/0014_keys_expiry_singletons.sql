-- pgq 0014: flow control per key, expiry and singletons.
--
--   jobs.concurrency_key  the job's key within its queue (e.g. a customer id): set at enqueue, or
--                         taken from the payload by the task's registered concurrency_key_path
--   jobs.expires_at       the job must start by then; past it, it ends `expired` instead of running
--   jobs.state 'expired'  a new final state: the job never started (or never retried) in time
--   queues.key_concurrency  most running jobs per key of the queue (NULL: no per-key limit)
--   queues.ordered        with key_concurrency 1: a key's jobs start in enqueue (id) order; a job
--                         waiting for its retry holds its key's turn, a final one releases it
--   queues.key_cursor     where the last claim's round of keys stopped (round-robin fairness)
--   queues.key_rate_limit,  a token bucket per key: at most key_rate_limit jobs of one key start
--     key_rate_interval_ms  per key_rate_interval_ms (burst: one bucket); state in queue_key_buckets
--   tasks.concurrency_key_path, tasks.expire_in_ms  the task's defaults, applied by enqueue_many()
--
-- A singleton is a dedup key (`enqueue(..., { singleton: true })`): no schema of its own.
-- See docs/flow-control.md.

ALTER TABLE {{schema}}.jobs
  ADD COLUMN concurrency_key text,
  ADD COLUMN expires_at      timestamptz,
  ADD CONSTRAINT jobs_concurrency_key_check
    CHECK (concurrency_key IS NULL OR length(concurrency_key) BETWEEN 1 AND 512);

ALTER TABLE {{schema}}.jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE {{schema}}.jobs ADD CONSTRAINT jobs_state_check
  CHECK (state IN ('blocked', 'available', 'running', 'succeeded', 'failed', 'cancelled', 'expired')) NOT VALID;
ALTER TABLE {{schema}}.jobs VALIDATE CONSTRAINT jobs_state_check;
ALTER TABLE {{schema}}.jobs DROP CONSTRAINT jobs_finished_check;
ALTER TABLE {{schema}}.jobs ADD CONSTRAINT jobs_finished_check
  CHECK ((state IN ('succeeded', 'failed', 'cancelled', 'expired')) = (finished_at IS NOT NULL)) NOT VALID;
ALTER TABLE {{schema}}.jobs VALIDATE CONSTRAINT jobs_finished_check;

-- Keyed claims, with one index more than unkeyed jobs (each index a keyed job enters costs every
-- claim; the benchmark measured three at 21 % of the drain rate): the keys with waiting jobs (one
-- probe per key, in key order) and a key's waiting jobs oldest first (the head of an ordered key
-- too). A key's running jobs come from the running index of 0012, which now carries the key.
CREATE INDEX jobs_key_waiting_idx ON {{schema}}.jobs (queue, concurrency_key, id)
  WHERE state = 'available' AND concurrency_key IS NOT NULL;
DROP INDEX {{schema}}.jobs_running_queue_idx;
CREATE INDEX jobs_running_queue_idx ON {{schema}}.jobs (queue, concurrency_key) WHERE state = 'running';
-- The expiry sweep: waiting jobs with a deadline.
CREATE INDEX jobs_expires_idx ON {{schema}}.jobs (expires_at)
  WHERE state = 'available' AND expires_at IS NOT NULL;

ALTER TABLE {{schema}}.tasks
  ADD COLUMN concurrency_key_path text,
  ADD COLUMN expire_in_ms float8,
  ADD CONSTRAINT tasks_concurrency_key_path_check
    CHECK (concurrency_key_path IS NULL OR length(concurrency_key_path) BETWEEN 1 AND 256),
  ADD CONSTRAINT tasks_expire_in_ms_check CHECK (expire_in_ms IS NULL OR expire_in_ms > 0);

ALTER TABLE {{schema}}.queues
  DROP COLUMN limited,
  ADD COLUMN key_concurrency integer,
  ADD COLUMN ordered boolean NOT NULL DEFAULT false,
  ADD COLUMN key_cursor text,
  ADD COLUMN key_rate_limit integer,
  ADD COLUMN key_rate_interval_ms integer,
  ADD COLUMN limited boolean GENERATED ALWAYS AS (
    paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL OR key_concurrency IS NOT NULL
    OR key_rate_limit IS NOT NULL) STORED,
  ADD CONSTRAINT queues_key_rate_check CHECK (
    (key_rate_limit IS NULL) = (key_rate_interval_ms IS NULL)
    AND (key_rate_limit IS NULL OR key_rate_limit BETWEEN 1 AND 1000000)
    AND (key_rate_interval_ms IS NULL OR key_rate_interval_ms BETWEEN 1 AND 86400000)
  ),
  ADD CONSTRAINT queues_key_concurrency_check
    CHECK (key_concurrency IS NULL OR key_concurrency BETWEEN 1 AND 1000000),
  ADD CONSTRAINT queues_ordered_check CHECK (NOT ordered OR coalesce(key_concurrency, 0) = 1);

-- Per-key token buckets: tokens left at tokens_at, refilled continuously (a missing row is a full
-- bucket). Written by claim_limited() under the queue's row lock; the pruner drops full ones.
CREATE TABLE {{schema}}.queue_key_buckets (
  queue      text        NOT NULL,
  key        text        NOT NULL,
  tokens     float8      NOT NULL,
  tokens_at  timestamptz NOT NULL,
  PRIMARY KEY (queue, key)
);

DROP TRIGGER queues_notify ON {{schema}}.queues;
CREATE TRIGGER queues_notify
  AFTER INSERT OR DELETE OR UPDATE OF paused, concurrency, rate_limit, rate_interval_ms, key_concurrency, ordered,
    key_rate_limit, key_rate_interval_ms
  ON {{schema}}.queues
  FOR EACH ROW EXECUTE FUNCTION {{schema}}.queues_notify();

CREATE OR REPLACE FUNCTION {{schema}}.enqueue_many(jobs jsonb)
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
  bad_flow_ord bigint;
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
    min(e.ord) FILTER (WHERE (e.elem ? 'concurrency_key' AND jsonb_typeof(e.elem->'concurrency_key') <> 'null'
                              AND (jsonb_typeof(e.elem->'concurrency_key') <> 'string'
                                   OR length(e.elem->>'concurrency_key') NOT BETWEEN 1 AND 512))
                          OR (jsonb_typeof(e.elem->'expire_in_ms') = 'number'
                              AND (e.elem->>'expire_in_ms')::double precision <= 0)),
    array_agg(DISTINCT e.elem->>'task') || array_agg(DISTINCT e.elem->>'queue')
  INTO bad_ord, bad_window_ord, bad_flow_ord, names
  FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(elem, ord);
  IF bad_ord IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: job % of the batch is not an object with a task name (and dedup_mode keep|replace|debounce|throttle)', bad_ord
      USING ERRCODE = '22023';
  END IF;
  IF bad_window_ord IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: job % of the batch: dedup_mode debounce and throttle need a dedup_key and a dedup_window_ms > 0', bad_window_ord
      USING ERRCODE = '22023';
  END IF;
  IF bad_flow_ord IS NOT NULL THEN
    RAISE EXCEPTION 'pgq: job % of the batch: concurrency_key must be a string of 1-512 characters and expire_in_ms a number > 0', bad_flow_ord
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
      schedule_name text, scheduled_for timestamptz, concurrency_key text, expire_in_ms double precision,
      expires_at timestamptz
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
      -- flow control (0014): the key given, else the task's payload field; the deadline given, else
      -- due time + the job's (or the task's) expire_in_ms
      coalesce(i.concurrency_key, CASE
        WHEN t.concurrency_key_path IS NOT NULL AND i.has_payload AND jsonb_typeof(
          i.payload #> string_to_array(t.concurrency_key_path, '.')) IN ('string', 'number', 'boolean')
        THEN nullif(left(i.payload #>> string_to_array(t.concurrency_key_path, '.'), 512), '') END) AS concurrency_key,
      coalesce(i.expire_in_ms, t.expire_in_ms) AS expire_in_ms,
      coalesce(i.expires_at, coalesce(i.run_at, now()) + make_interval(secs => (coalesce(i.delay_ms, 0)
        + CASE WHEN i.dedup_mode = 'debounce' THEN i.dedup_window_ms ELSE 0 END
        + coalesce(i.expire_in_ms, t.expire_in_ms)) / 1000.0)) AS expires_at,
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
      dedup_key, meta, schedule_name, scheduled_for, concurrency_key, expires_at
    ) OVERRIDING SYSTEM VALUE
    SELECT p.new_id, p.task, p.payload, p.queue, p.priority, p.run_at, p.max_attempts,
      p.max_interruptions, p.dedup_key, p.meta, p.schedule_name, p.scheduled_for, p.concurrency_key,
      p.expires_at
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
      dedup_window_ms double precision, meta jsonb, schedule_name text, scheduled_for timestamptz,
      concurrency_key text, expire_in_ms double precision, expires_at timestamptz
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
            max_attempts = r.max_attempts, meta = r.meta, followup = NULL,
            concurrency_key = r.concurrency_key, expires_at = r.expires_at
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
              'max_attempts', r.max_attempts, 'max_interruptions', r.max_interruptions, 'meta', r.meta,
              'concurrency_key', r.concurrency_key, 'expire_in_ms', r.expire_in_ms)
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
        dedup_key, meta, schedule_name, scheduled_for, concurrency_key, expires_at
      ) VALUES (
        r.task, r.payload, r.queue, r.priority, r.run_at, r.max_attempts, r.max_interruptions,
        r.dedup_key, r.meta, r.schedule_name, r.scheduled_for, r.concurrency_key, r.expires_at
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
-- The claim of a queue with limits, now with per-key limits and deadlines. As in 0012: the queue's
-- row is locked first, so claimers of a limited queue take turns and each count sees the previous
-- claimer's commit. A keyed queue is served in rounds: keys in key order from where the last claim
-- stopped (queues.key_cursor), wrapping around, each key given what its limit allows, so a key
-- with 100,000 waiting jobs takes one turn like a key with one. A round visits at most 1,000 keys
-- (a claim's cost stays bounded); the next claim goes on from there. Jobs without a key fill what
-- the keys left of the batch.
DROP FUNCTION {{schema}}.claim_limited(text, integer, uuid, float8, text[]);
CREATE FUNCTION {{schema}}.claim_limited(
  p_queue text, p_limit integer, p_worker uuid, p_lease_ms float8, p_tasks text[]
)
RETURNS TABLE (
  id bigint, task text, queue text, payload jsonb, attempts smallint, max_attempts smallint,
  lease_token uuid, trace jsonb, wait_ms float8, steps jsonb, retry_in_ms float8, retry_scope text
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  q {{schema}}.queues;
  n integer := p_limit;
  avail float8;
  claimed integer := 0;
  got integer;
  t_now timestamptz;
  k text;
  nk text;
  wrapped boolean := false;
  visited integer := 0;
  free integer;
  head_id bigint;
  head_run_at timestamptz;
  head_task text;
  kb {{schema}}.queue_key_buckets;
  kavail float8;
  key_retry float8;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT * INTO q FROM {{schema}}.queues AS x WHERE x.name = p_queue FOR UPDATE;
  -- read the clock once the lock is held: the bucket's time only moves forward
  t_now := greatest(clock_timestamp(), q.tokens_at);
  IF FOUND THEN
    IF q.paused THEN
      RETURN;
    END IF;
    IF q.concurrency IS NOT NULL THEN
      n := least(n, q.concurrency - (
        SELECT count(*)::integer FROM {{schema}}.jobs AS r WHERE r.queue = p_queue AND r.state = 'running'));
    END IF;
    IF q.rate_limit IS NOT NULL THEN
      -- refill since the last claim (a full bucket when never used), capped at one bucket
      avail := least(q.rate_limit::float8, coalesce(q.tokens, q.rate_limit) + greatest(0,
        extract(epoch FROM t_now - coalesce(q.tokens_at, t_now)) * 1000) * q.rate_limit / q.rate_interval_ms);
    END IF;
  END IF;
  IF avail IS NOT NULL AND n > 0 AND floor(avail) < n THEN
    n := floor(avail)::integer;
    IF n = 0 THEN
      UPDATE {{schema}}.queues AS x SET tokens = avail, tokens_at = t_now WHERE x.name = p_queue;
      id := NULL;
      retry_in_ms := (1 - avail) * q.rate_interval_ms / q.rate_limit;
      retry_scope := 'queue';
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  IF n <= 0 THEN
    RETURN;
  END IF;

  IF q.key_concurrency IS NOT NULL OR q.key_rate_limit IS NOT NULL THEN
    k := q.key_cursor;
    WHILE claimed < n AND visited < 1000 LOOP
      -- two statements, not `k IS NULL OR key > k`: a cached generic plan could not use the OR as
      -- an index bound and would scan every waiting job of the keys before k
      IF k IS NULL THEN
        SELECT a.concurrency_key INTO nk FROM {{schema}}.jobs AS a
        WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key IS NOT NULL
        ORDER BY a.concurrency_key LIMIT 1;
      ELSE
        SELECT a.concurrency_key INTO nk FROM {{schema}}.jobs AS a
        WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > k
        ORDER BY a.concurrency_key LIMIT 1;
      END IF;
      IF nk IS NULL THEN
        -- past the last key: start again from the first, once
        EXIT WHEN wrapped OR k IS NULL;
        wrapped := true;
        k := NULL;
        CONTINUE;
      END IF;
      -- a full round: back past where this claim started
      EXIT WHEN wrapped AND q.key_cursor IS NOT NULL AND nk > q.key_cursor;
      k := nk;
      visited := visited + 1;
      free := n - claimed;
      IF q.key_rate_limit IS NOT NULL THEN
        -- the key's bucket: refilled since its last claim, capped at one bucket (no row: full)
        SELECT * INTO kb FROM {{schema}}.queue_key_buckets AS b WHERE b.queue = p_queue AND b.key = k;
        kavail := least(q.key_rate_limit::float8, coalesce(kb.tokens, q.key_rate_limit) + greatest(0,
          extract(epoch FROM t_now - coalesce(kb.tokens_at, t_now)) * 1000) * q.key_rate_limit / q.key_rate_interval_ms);
        IF kavail < 1 THEN
          key_retry := least(key_retry, (1 - kavail) * q.key_rate_interval_ms / q.key_rate_limit);
          CONTINUE;
        END IF;
        free := least(free, floor(kavail)::integer);
      END IF;
      got := 0;
      IF q.ordered THEN
        -- one at a time (key_concurrency is 1): nothing while one runs; else the key's first waiting
        -- job in enqueue order, when it is due (a job waiting for its retry holds the turn)
        head_id := NULL;
        IF NOT EXISTS (SELECT FROM {{schema}}.jobs AS r
                       WHERE r.queue = p_queue AND r.concurrency_key = k AND r.state = 'running') THEN
          SELECT a.id, a.run_at, a.task INTO head_id, head_run_at, head_task FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.concurrency_key = k AND a.state = 'available'
            AND (a.expires_at IS NULL OR a.expires_at > now())
          ORDER BY a.id LIMIT 1;
        END IF;
        IF head_id IS NOT NULL AND head_run_at <= now() AND head_task = ANY(p_tasks) AND free > 0 THEN
          RETURN QUERY
          UPDATE {{schema}}.jobs AS j
          SET state = 'running', attempts = j.attempts + 1, locked_by = p_worker,
              lease_token = gen_random_uuid(),
              lease_expires_at = now() + p_lease_ms * interval '1 millisecond', started_at = now()
          WHERE j.id = head_id AND j.state = 'available'
          RETURNING j.id, j.task, j.queue, j.payload, j.attempts, j.max_attempts, j.lease_token,
                    j.meta->'trace', greatest(extract(epoch FROM now() - j.run_at) * 1000, 0)::float8, j.steps,
                    NULL::float8, NULL::text;
          GET DIAGNOSTICS got = ROW_COUNT;
          claimed := claimed + got;
        END IF;
      ELSE
        IF q.key_concurrency IS NOT NULL THEN
          free := least(free, q.key_concurrency - (SELECT count(*)::integer FROM {{schema}}.jobs AS r
            WHERE r.queue = p_queue AND r.concurrency_key = k AND r.state = 'running'));
        END IF;
        IF free > 0 THEN
          RETURN QUERY
          WITH picked AS MATERIALIZED (
            SELECT a.id FROM {{schema}}.jobs AS a
            WHERE a.queue = p_queue AND a.concurrency_key = k AND a.state = 'available'
              AND a.run_at <= now() AND a.task = ANY(p_tasks)
              AND (a.expires_at IS NULL OR a.expires_at > now())
            ORDER BY a.id
            LIMIT free
            FOR UPDATE SKIP LOCKED
          )
          UPDATE {{schema}}.jobs AS j
          SET state = 'running', attempts = j.attempts + 1, locked_by = p_worker,
              lease_token = gen_random_uuid(),
              lease_expires_at = now() + p_lease_ms * interval '1 millisecond', started_at = now()
          FROM picked
          WHERE j.id = picked.id
          RETURNING j.id, j.task, j.queue, j.payload, j.attempts, j.max_attempts, j.lease_token,
                    j.meta->'trace', greatest(extract(epoch FROM now() - j.run_at) * 1000, 0)::float8, j.steps,
                    NULL::float8, NULL::text;
          GET DIAGNOSTICS got = ROW_COUNT;
          claimed := claimed + got;
        END IF;
      END IF;
      IF q.key_rate_limit IS NOT NULL AND got > 0 THEN
        -- a plain UPDATE when the bucket exists (read above, under the queue's lock): cheaper than
        -- an upsert's speculative insertion on every claim
        IF kb.queue IS NOT NULL THEN
          UPDATE {{schema}}.queue_key_buckets AS b SET tokens = kavail - got, tokens_at = t_now
          WHERE b.queue = p_queue AND b.key = k;
        ELSE
          INSERT INTO {{schema}}.queue_key_buckets AS b (queue, key, tokens, tokens_at)
          VALUES (p_queue, k, kavail - got, t_now)
          ON CONFLICT (queue, key) DO UPDATE SET tokens = excluded.tokens, tokens_at = excluded.tokens_at;
        END IF;
      END IF;
    END LOOP;
    IF k IS DISTINCT FROM q.key_cursor THEN
      UPDATE {{schema}}.queues AS x SET key_cursor = k WHERE x.name = p_queue;
    END IF;
  END IF;

  IF claimed < n THEN
    RETURN QUERY
    WITH picked AS MATERIALIZED (
      SELECT a.id FROM {{schema}}.jobs AS a
      WHERE a.state = 'available' AND a.queue = p_queue AND a.run_at <= now() AND a.task = ANY(p_tasks)
        AND (a.expires_at IS NULL OR a.expires_at > now())
        AND ((q.key_concurrency IS NULL AND q.key_rate_limit IS NULL) OR a.concurrency_key IS NULL)
      ORDER BY a.priority DESC, a.run_at, a.id
      LIMIT n - claimed
      FOR UPDATE SKIP LOCKED
    )
    UPDATE {{schema}}.jobs AS j
    SET state = 'running',
        attempts = j.attempts + 1,
        locked_by = p_worker,
        lease_token = gen_random_uuid(),
        lease_expires_at = now() + p_lease_ms * interval '1 millisecond',
        started_at = now()
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.task, j.queue, j.payload, j.attempts, j.max_attempts, j.lease_token,
              j.meta->'trace', greatest(extract(epoch FROM now() - j.run_at) * 1000, 0)::float8, j.steps,
              NULL::float8, NULL::text;
    GET DIAGNOSTICS got = ROW_COUNT;
    claimed := claimed + got;
  END IF;
  IF avail IS NOT NULL THEN
    avail := avail - claimed;
    UPDATE {{schema}}.queues AS x SET tokens = avail, tokens_at = t_now WHERE x.name = p_queue;
    IF claimed = n AND avail < 1 THEN
      id := NULL;
      retry_in_ms := (1 - avail) * q.rate_interval_ms / q.rate_limit;
      retry_scope := 'queue';
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  -- keys held back by their rate: when the first of them has a token again (a wake-up only; other
  -- keys' jobs may be claimed before)
  IF key_retry IS NOT NULL AND claimed < n THEN
    id := NULL;
    retry_in_ms := key_retry;
    retry_scope := 'key';
    RETURN NEXT;
  END IF;
END
$fn$;

REVOKE ALL ON {{schema}}.queue_key_buckets FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.claim_limited(text, integer, uuid, float8, text[]) FROM PUBLIC;

-- The new claim function and the buckets: for the roles that may claim (they could update jobs),
-- as in 0012.
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
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON {{schema}}.queue_key_buckets TO %s', g.grantee);
    EXECUTE format('GRANT EXECUTE ON FUNCTION {{schema}}.claim_limited(text, integer, uuid, float8, text[]) TO %s',
      g.grantee);
  END LOOP;
END
$do$;

-- A follow-up (dedup replace/debounce while the job ran) keeps the key and deadline of its enqueue.
CREATE OR REPLACE FUNCTION {{schema}}.release_followup()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f jsonb := OLD.followup;
  due timestamptz := greatest((OLD.followup->>'run_at')::timestamptz, now());
  deadline timestamptz := due + make_interval(secs => (OLD.followup->>'expire_in_ms')::float8 / 1000.0);
BEGIN
  INSERT INTO {{schema}}.jobs AS j (
    task, payload, queue, priority, run_at, max_attempts, max_interruptions, dedup_key, meta,
    concurrency_key, expires_at
  ) VALUES (
    OLD.task, f->'payload', f->>'queue', (f->>'priority')::smallint, due,
    (f->>'max_attempts')::smallint, (f->>'max_interruptions')::smallint, OLD.dedup_key,
    coalesce(f->'meta', '{}'::jsonb), f->>'concurrency_key', deadline
  )
  ON CONFLICT (task, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('available', 'running')
    DO UPDATE SET payload = excluded.payload, queue = excluded.queue, priority = excluded.priority,
      run_at = excluded.run_at, max_attempts = excluded.max_attempts, meta = excluded.meta,
      concurrency_key = excluded.concurrency_key, expires_at = excluded.expires_at
    WHERE j.state = 'available';
  PERFORM pg_notify('{{schema_name}}:jobs', (f->>'queue') || CASE WHEN due > now()
    THEN '@' || floor(extract(epoch FROM due) * 1000)::bigint::text ELSE '' END);
  RETURN NULL;
END
$fn$;

-- The followup triggers also fire when a job with a follow-up expires.
DROP TRIGGER jobs_followup_clear ON {{schema}}.jobs;
CREATE TRIGGER jobs_followup_clear BEFORE UPDATE OF state ON {{schema}}.jobs
  FOR EACH ROW WHEN (OLD.followup IS NOT NULL AND NEW.state IN ('succeeded', 'failed', 'cancelled', 'expired'))
  EXECUTE FUNCTION {{schema}}.clear_followup();
DROP TRIGGER jobs_followup_release ON {{schema}}.jobs;
CREATE TRIGGER jobs_followup_release AFTER UPDATE OF state ON {{schema}}.jobs
  FOR EACH ROW WHEN (OLD.followup IS NOT NULL AND NEW.state IN ('succeeded', 'failed', 'cancelled', 'expired'))
  EXECUTE FUNCTION {{schema}}.release_followup();

CREATE OR REPLACE VIEW {{schema}}.queue_status AS
SELECT
  coalesce(q.name, c.queue) AS queue,
  coalesce(q.paused, false) AS paused,
  q.concurrency,
  q.rate_limit,
  q.rate_interval_ms,
  coalesce(c.running, 0)::bigint AS running,
  coalesce(c.waiting, 0)::bigint AS waiting,
  q.key_concurrency,
  coalesce(q.ordered, false) AS ordered,
  q.key_rate_limit,
  q.key_rate_interval_ms
FROM {{schema}}.queues AS q
FULL JOIN (
  SELECT j.queue,
         count(*) FILTER (WHERE j.state = 'running') AS running,
         count(*) FILTER (WHERE j.state = 'available' AND j.run_at <= now()) AS waiting
  FROM {{schema}}.jobs AS j
  WHERE j.state IN ('running', 'available')
  GROUP BY j.queue
) AS c ON c.queue = q.name;

