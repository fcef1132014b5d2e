-- pgq 0017: the keyed claim reads a key's jobs through the key's index whatever the statistics.
--
-- claim_limited() (0015) takes a key's waiting jobs oldest first with
--   WHERE a.queue = $q AND a.concurrency_key = k AND a.state = 'available' ORDER BY a.id LIMIT n
-- which jobs_key_waiting_idx (queue, concurrency_key, id) answers in order. The primary key answers
-- `ORDER BY id` too, reading every row from the oldest and filtering; the planner takes it when it
-- believes most rows are the key's waiting jobs: one key (or a few) and statistics from when the
-- jobs were enqueued. Then each claim reads every finished row of the table before the first
-- waiting one: measured on PostgreSQL 15 with one key and 40,000 jobs, 3.7 ms for a claim of 100
-- half way through (20,000 rows filtered) against 0.1 ms through the key's index, and 200 us of
-- PostgreSQL CPU per job over the whole drain against 24 us for the same jobs without a key.
--
-- Now the key is a range, concurrency_key >= k AND concurrency_key <= k, and the order is
-- (concurrency_key, id). The rows are the same (one key) and the order is the same (id within the
-- key), but no equality makes concurrency_key redundant in the order, so only the key's index gives
-- that order without sorting every waiting job of the key: the plan is the key's index whatever the
-- statistics say. Nothing else changes.
-- See docs/flow-control.md.

CREATE OR REPLACE FUNCTION {{schema}}.claim_limited(
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
  key_retry float8;
  plan_mode text;
  ignored text;
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
    -- The keys with waiting jobs, in the order of the round: those after the cursor, then from the
    -- first key up to the cursor (all of them when there is no cursor yet), at most 1,000. Each is
    -- one probe of jobs_key_waiting_idx for the next key; `> k` with k never NULL keeps every probe
    -- an index bound, in a generic plan too. Read lazily: only as many keys as the batch needs.
    -- A key's jobs, joined laterally: at most what the batch has left (the outer LIMIT), its limit
    -- minus its running jobs (counted for keys actually reached), its tokens; oldest first, as in
    -- 0014. Ordered: the key's first waiting job in id order, taken only when it is due, its task is
    -- one of ours and nothing of the key runs (a job waiting for its retry holds the turn).
    -- A generic plan (planned once per connection): the statement is large, and the plan cache
    -- would otherwise plan it anew on every call (its custom plans look cheaper), which cost more
    -- than running it. Only for this statement; the caller's setting is back right after.
    plan_mode := current_setting('plan_cache_mode');
    ignored := set_config('plan_cache_mode', 'force_generic_plan', true);
    IF q.ordered THEN
      RETURN QUERY
      WITH RECURSIVE
      after_cursor (k, pos) AS (
        SELECT f.k, 1 FROM (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > q.key_cursor
          ORDER BY a.concurrency_key LIMIT 1) AS f
        UNION ALL
        SELECT f.k, c.pos + 1 FROM after_cursor AS c
        CROSS JOIN LATERAL (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > c.k
          ORDER BY a.concurrency_key LIMIT 1) AS f
        WHERE c.pos < 1000
      ),
      from_start (k, pos) AS (
        SELECT f.k, 1001 FROM (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key IS NOT NULL
          ORDER BY a.concurrency_key LIMIT 1) AS f
        WHERE q.key_cursor IS NULL OR f.k <= q.key_cursor
        UNION ALL
        SELECT f.k, c.pos + 1 FROM from_start AS c
        CROSS JOIN LATERAL (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > c.k
          ORDER BY a.concurrency_key LIMIT 1) AS f
        WHERE (q.key_cursor IS NULL OR f.k <= q.key_cursor) AND c.pos < 2000
      ),
      round AS (
        SELECT r.k, r.pos FROM (SELECT * FROM after_cursor UNION ALL SELECT * FROM from_start) AS r LIMIT 1000
      ),
      picked AS MATERIALIZED (
        SELECT h.id, r.k, r.pos, kb.kavail, kb.known
        FROM round AS r
        LEFT JOIN LATERAL (
          SELECT least(q.key_rate_limit::float8, coalesce(b.tokens, q.key_rate_limit) + greatest(0,
                   extract(epoch FROM t_now - coalesce(b.tokens_at, t_now)) * 1000)
                   * q.key_rate_limit / q.key_rate_interval_ms) AS kavail,
                 b.queue IS NOT NULL AS known
          FROM (SELECT 1) AS one
          LEFT JOIN {{schema}}.queue_key_buckets AS b ON b.queue = p_queue AND b.key = r.k
          WHERE q.key_rate_limit IS NOT NULL
          LIMIT 1
        ) AS kb ON true
        CROSS JOIN LATERAL (
          SELECT a.id, a.run_at, a.task FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.concurrency_key >= r.k AND a.concurrency_key <= r.k
            AND a.state = 'available' AND (a.expires_at IS NULL OR a.expires_at > now())
          ORDER BY a.concurrency_key, a.id LIMIT 1
        ) AS h
        WHERE h.run_at <= now() AND h.task = ANY(p_tasks) AND coalesce(kb.kavail, 1) >= 1
          AND NOT EXISTS (SELECT FROM {{schema}}.jobs AS x
                          WHERE x.queue = p_queue AND x.concurrency_key = r.k AND x.state = 'running')
        LIMIT n
      ),
      started AS (
        UPDATE {{schema}}.jobs AS j
        SET state = 'running', attempts = j.attempts + 1, locked_by = p_worker,
            lease_token = gen_random_uuid(),
            lease_expires_at = now() + p_lease_ms * interval '1 millisecond', started_at = now()
        FROM picked
        WHERE j.id = picked.id AND j.state = 'available'
        RETURNING j.id, j.task, j.queue, j.payload, j.attempts, j.max_attempts, j.lease_token,
                  j.meta->'trace' AS trace, greatest(extract(epoch FROM now() - j.run_at) * 1000, 0)::float8 AS wait_ms,
                  j.steps, picked.k, picked.pos, picked.kavail, picked.known
      ),
      spent AS (
        SELECT s.k, min(s.kavail) AS kavail, bool_or(s.known) AS known, count(*) AS got
        FROM started AS s WHERE q.key_rate_limit IS NOT NULL GROUP BY s.k
      ),
      -- a plain UPDATE for a bucket read above (under the queue's lock), an insert for a new one
      bucket_written AS (
        UPDATE {{schema}}.queue_key_buckets AS b SET tokens = s.kavail - s.got, tokens_at = t_now
        FROM spent AS s WHERE s.known AND b.queue = p_queue AND b.key = s.k
      ),
      bucket_created AS (
        INSERT INTO {{schema}}.queue_key_buckets AS b (queue, key, tokens, tokens_at)
        SELECT p_queue, s.k, s.kavail - s.got, t_now FROM spent AS s WHERE NOT s.known
        ON CONFLICT (queue, key) DO UPDATE SET tokens = excluded.tokens, tokens_at = excluded.tokens_at
      ),
      -- where the round stopped: the key that filled the batch, else the last key reached (the
      -- round's lookups above have then read them all); unchanged when no key waits
      stopped AS MATERIALIZED (
        SELECT CASE WHEN (SELECT count(*) FROM picked) >= n
                    THEN (SELECT p.k FROM picked AS p ORDER BY p.pos DESC LIMIT 1)
                    ELSE (SELECT r.k FROM round AS r ORDER BY r.pos DESC LIMIT 1) END AS k
      ),
      cursor_moved AS (
        UPDATE {{schema}}.queues AS x SET key_cursor = st.k
        FROM stopped AS st
        WHERE x.name = p_queue AND st.k IS NOT NULL AND st.k IS DISTINCT FROM x.key_cursor
      )
      SELECT s.id, s.task, s.queue, s.payload, s.attempts, s.max_attempts, s.lease_token, s.trace,
             s.wait_ms, s.steps, NULL::float8, NULL::text
      FROM started AS s
      ORDER BY s.pos, s.id;
    ELSE
      RETURN QUERY
      WITH RECURSIVE
      after_cursor (k, pos) AS (
        SELECT f.k, 1 FROM (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > q.key_cursor
          ORDER BY a.concurrency_key LIMIT 1) AS f
        UNION ALL
        SELECT f.k, c.pos + 1 FROM after_cursor AS c
        CROSS JOIN LATERAL (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > c.k
          ORDER BY a.concurrency_key LIMIT 1) AS f
        WHERE c.pos < 1000
      ),
      from_start (k, pos) AS (
        SELECT f.k, 1001 FROM (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key IS NOT NULL
          ORDER BY a.concurrency_key LIMIT 1) AS f
        WHERE q.key_cursor IS NULL OR f.k <= q.key_cursor
        UNION ALL
        SELECT f.k, c.pos + 1 FROM from_start AS c
        CROSS JOIN LATERAL (
          SELECT a.concurrency_key AS k FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.state = 'available' AND a.concurrency_key > c.k
          ORDER BY a.concurrency_key LIMIT 1) AS f
        WHERE (q.key_cursor IS NULL OR f.k <= q.key_cursor) AND c.pos < 2000
      ),
      round AS (
        SELECT r.k, r.pos FROM (SELECT * FROM after_cursor UNION ALL SELECT * FROM from_start) AS r LIMIT 1000
      ),
      picked AS MATERIALIZED (
        SELECT p.id, r.k, r.pos, kb.kavail, kb.known
        FROM round AS r
        LEFT JOIN LATERAL (
          SELECT least(q.key_rate_limit::float8, coalesce(b.tokens, q.key_rate_limit) + greatest(0,
                   extract(epoch FROM t_now - coalesce(b.tokens_at, t_now)) * 1000)
                   * q.key_rate_limit / q.key_rate_interval_ms) AS kavail,
                 b.queue IS NOT NULL AS known
          FROM (SELECT 1) AS one
          LEFT JOIN {{schema}}.queue_key_buckets AS b ON b.queue = p_queue AND b.key = r.k
          WHERE q.key_rate_limit IS NOT NULL
          LIMIT 1
        ) AS kb ON true
        CROSS JOIN LATERAL (
          SELECT a.id FROM {{schema}}.jobs AS a
          WHERE a.queue = p_queue AND a.concurrency_key >= r.k AND a.concurrency_key <= r.k
            AND a.state = 'available' AND a.run_at <= now() AND a.task = ANY(p_tasks)
            AND (a.expires_at IS NULL OR a.expires_at > now())
          ORDER BY a.concurrency_key, a.id
          LIMIT greatest(0, least(n::bigint, floor(kb.kavail)::bigint,
            CASE WHEN q.key_concurrency IS NOT NULL THEN q.key_concurrency - (
              SELECT count(*) FROM {{schema}}.jobs AS x
              WHERE x.queue = p_queue AND x.concurrency_key = r.k AND x.state = 'running') END))
          FOR UPDATE SKIP LOCKED
        ) AS p
        LIMIT n
      ),
      started AS (
        UPDATE {{schema}}.jobs AS j
        SET state = 'running', attempts = j.attempts + 1, locked_by = p_worker,
            lease_token = gen_random_uuid(),
            lease_expires_at = now() + p_lease_ms * interval '1 millisecond', started_at = now()
        FROM picked
        WHERE j.id = picked.id
        RETURNING j.id, j.task, j.queue, j.payload, j.attempts, j.max_attempts, j.lease_token,
                  j.meta->'trace' AS trace, greatest(extract(epoch FROM now() - j.run_at) * 1000, 0)::float8 AS wait_ms,
                  j.steps, picked.k, picked.pos, picked.kavail, picked.known
      ),
      spent AS (
        SELECT s.k, min(s.kavail) AS kavail, bool_or(s.known) AS known, count(*) AS got
        FROM started AS s WHERE q.key_rate_limit IS NOT NULL GROUP BY s.k
      ),
      bucket_written AS (
        UPDATE {{schema}}.queue_key_buckets AS b SET tokens = s.kavail - s.got, tokens_at = t_now
        FROM spent AS s WHERE s.known AND b.queue = p_queue AND b.key = s.k
      ),
      bucket_created AS (
        INSERT INTO {{schema}}.queue_key_buckets AS b (queue, key, tokens, tokens_at)
        SELECT p_queue, s.k, s.kavail - s.got, t_now FROM spent AS s WHERE NOT s.known
        ON CONFLICT (queue, key) DO UPDATE SET tokens = excluded.tokens, tokens_at = excluded.tokens_at
      ),
      stopped AS MATERIALIZED (
        SELECT CASE WHEN (SELECT count(*) FROM picked) >= n
                    THEN (SELECT p.k FROM picked AS p ORDER BY p.pos DESC LIMIT 1)
                    ELSE (SELECT r.k FROM round AS r ORDER BY r.pos DESC LIMIT 1) END AS k
      ),
      cursor_moved AS (
        UPDATE {{schema}}.queues AS x SET key_cursor = st.k
        FROM stopped AS st
        WHERE x.name = p_queue AND st.k IS NOT NULL AND st.k IS DISTINCT FROM x.key_cursor
      )
      SELECT s.id, s.task, s.queue, s.payload, s.attempts, s.max_attempts, s.lease_token, s.trace,
             s.wait_ms, s.steps, NULL::float8, NULL::text
      FROM started AS s
      ORDER BY s.pos, s.id;
    END IF;
    GET DIAGNOSTICS claimed = ROW_COUNT;
    ignored := set_config('plan_cache_mode', plan_mode, true);

    IF q.key_rate_limit IS NOT NULL AND claimed < n THEN
      -- keys held back by their rate: when the first of them has a token again (a wake-up only;
      -- other keys' jobs may be claimed before). Empty buckets are few; a key counts while it has
      -- waiting jobs.
      SELECT min((1 - e.kavail) * q.key_rate_interval_ms / q.key_rate_limit) INTO key_retry
      FROM (
        SELECT b.key, least(q.key_rate_limit::float8, b.tokens + greatest(0,
                 extract(epoch FROM t_now - b.tokens_at) * 1000) * q.key_rate_limit / q.key_rate_interval_ms) AS kavail
        FROM {{schema}}.queue_key_buckets AS b
        WHERE b.queue = p_queue
      ) AS e
      WHERE e.kavail < 1
        AND EXISTS (SELECT FROM {{schema}}.jobs AS a
                    WHERE a.queue = p_queue AND a.concurrency_key = e.key AND a.state = 'available');
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
  IF key_retry IS NOT NULL AND claimed < n THEN
    id := NULL;
    retry_in_ms := key_retry;
    retry_scope := 'key';
    RETURN NEXT;
  END IF;
END
$fn$;
