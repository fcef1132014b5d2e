-- pgq 0012: flow control. A queue's limits are a row of `queues`, changeable at runtime from SQL,
-- the API or the CLI; a queue without a row (or with a row that limits nothing) has no limits.
--
--   queues.paused        nothing of the queue is claimed while true (running jobs finish)
--   queues.concurrency   most jobs of the queue running at once across all workers; NULL: no limit
--   queues.rate_limit,   a token bucket: at most rate_limit jobs start per rate_interval_ms, with a
--     rate_interval_ms   burst of one bucket (rate_limit); NULL: no rate limit
--   queues.tokens,       the bucket's state (written by claim_limited() under the row lock): tokens
--     tokens_at          left at tokens_at; refilled continuously at rate_limit / rate_interval_ms
--   queues.limited       generated: the row limits something, so claims of the queue go through
--                        claim_limited() (one row lock per claim) instead of the plain claim
--
-- Every change of a row's settings notifies `<schema>:jobs` with `<queue>!` (trigger below):
-- workers re-read the row and claim at once (a resume wakes them within a round trip).
-- See docs/flow-control.md.

CREATE TABLE {{schema}}.queues (
  name         text        PRIMARY KEY,
  paused       boolean     NOT NULL DEFAULT false,
  concurrency  integer,
  rate_limit   integer,
  rate_interval_ms integer,
  tokens       float8,
  tokens_at    timestamptz,
  limited      boolean     GENERATED ALWAYS AS (paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL) STORED,
  updated_at   timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT queues_name_check CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  CONSTRAINT queues_concurrency_check CHECK (concurrency IS NULL OR concurrency BETWEEN 1 AND 1000000),
  CONSTRAINT queues_rate_check CHECK (
    (rate_limit IS NULL) = (rate_interval_ms IS NULL)
    AND (rate_limit IS NULL OR rate_limit BETWEEN 1 AND 1000000)
    AND (rate_interval_ms IS NULL OR rate_interval_ms BETWEEN 1 AND 86400000)
  )
);

COMMENT ON TABLE {{schema}}.queues IS
  'pgq flow control: one row per queue with limits (pause, global concurrency, rate). See docs/flow-control.md.';

-- Global concurrency counts the running jobs of one queue under the queue's row lock.
CREATE INDEX jobs_running_queue_idx ON {{schema}}.jobs (queue) WHERE state = 'running';

CREATE FUNCTION {{schema}}.queues_notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('{{schema_name}}:jobs', OLD.name || '!');
    RETURN OLD;
  END IF;
  PERFORM pg_notify('{{schema_name}}:jobs', NEW.name || '!');
  RETURN NEW;
END
$fn$;

CREATE TRIGGER queues_notify
  AFTER INSERT OR DELETE OR UPDATE OF paused, concurrency, rate_limit, rate_interval_ms ON {{schema}}.queues
  FOR EACH ROW EXECUTE FUNCTION {{schema}}.queues_notify();

-- The claim of a queue with limits. One call is one statement for the caller; inside, the queue's
-- row is locked (FOR UPDATE) before anything is counted, so concurrent claimers of a limited queue
-- take turns, and each count runs on a snapshot taken after the previous claimer committed (a
-- volatile plpgsql function takes a new snapshot per statement). Same columns as the plain claim,
-- plus retry_in_ms: when the rate limit held the claim back, one last row with a NULL id says in
-- how many ms the next token is due (the worker sleeps until then instead of polling).
CREATE FUNCTION {{schema}}.claim_limited(
  p_queue text, p_limit integer, p_worker uuid, p_lease_ms float8, p_tasks text[]
)
RETURNS TABLE (
  id bigint, task text, queue text, payload jsonb, attempts smallint, max_attempts smallint,
  lease_token uuid, trace jsonb, wait_ms float8, steps jsonb, retry_in_ms float8
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  q {{schema}}.queues;
  n integer := p_limit;
  avail float8;
  claimed integer;
  t_now timestamptz;
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
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  IF n <= 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH picked AS MATERIALIZED (
    SELECT a.id FROM {{schema}}.jobs AS a
    WHERE a.state = 'available' AND a.queue = p_queue AND a.run_at <= now() AND a.task = ANY(p_tasks)
    ORDER BY a.priority DESC, a.run_at, a.id
    LIMIT n
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
            NULL::float8;
  IF avail IS NOT NULL THEN
    GET DIAGNOSTICS claimed = ROW_COUNT;
    avail := avail - claimed;
    UPDATE {{schema}}.queues AS x SET tokens = avail, tokens_at = t_now WHERE x.name = p_queue;
    IF claimed = n AND avail < 1 THEN
      id := NULL;
      retry_in_ms := (1 - avail) * q.rate_interval_ms / q.rate_limit;
      RETURN NEXT;
    END IF;
  END IF;
END
$fn$;

-- Pause and resume from SQL (the API and the CLI call these): create the row when missing.
CREATE FUNCTION {{schema}}.pause_queue(queue_name text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
  INSERT INTO {{schema}}.queues AS q (name, paused) VALUES (queue_name, true)
  ON CONFLICT (name) DO UPDATE SET paused = true, updated_at = now() WHERE NOT q.paused
$fn$;

CREATE FUNCTION {{schema}}.resume_queue(queue_name text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
  INSERT INTO {{schema}}.queues AS q (name, paused) VALUES (queue_name, false)
  ON CONFLICT (name) DO UPDATE SET paused = false, updated_at = now() WHERE q.paused
$fn$;

-- Per queue that has a row or jobs: its limits and what runs and waits now.
CREATE VIEW {{schema}}.queue_status AS
SELECT
  coalesce(q.name, c.queue) AS queue,
  coalesce(q.paused, false) AS paused,
  q.concurrency,
  q.rate_limit,
  q.rate_interval_ms,
  coalesce(c.running, 0)::bigint AS running,
  coalesce(c.waiting, 0)::bigint AS waiting
FROM {{schema}}.queues AS q
FULL JOIN (
  SELECT j.queue,
         count(*) FILTER (WHERE j.state = 'running') AS running,
         count(*) FILTER (WHERE j.state = 'available' AND j.run_at <= now()) AS waiting
  FROM {{schema}}.jobs AS j
  WHERE j.state IN ('running', 'available')
  GROUP BY j.queue
) AS c ON c.queue = q.name;

COMMENT ON VIEW {{schema}}.queue_status IS
  'pgq: per queue, its flow-control settings (paused, global concurrency, rate) and its running and waiting jobs.';

REVOKE ALL ON {{schema}}.queues, {{schema}}.queue_status FROM PUBLIC;
REVOKE ALL ON FUNCTION {{schema}}.queues_notify(),
  {{schema}}.claim_limited(text, integer, uuid, float8, text[]),
  {{schema}}.pause_queue(text), {{schema}}.resume_queue(text)
  FROM PUBLIC;

-- Every claim now reads `queues`: roles that could update jobs (workers, admin tools) may read and
-- lock its rows, claim limited queues, pause and resume, so an upgrade locks no worker out.
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
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON {{schema}}.queues TO %s', g.grantee);
    EXECUTE format('GRANT SELECT ON {{schema}}.queue_status TO %s', g.grantee);
    EXECUTE format('GRANT EXECUTE ON FUNCTION {{schema}}.claim_limited(text, integer, uuid, float8, text[]),
      {{schema}}.pause_queue(text), {{schema}}.resume_queue(text) TO %s', g.grantee);
  END LOOP;
END
$do$;
