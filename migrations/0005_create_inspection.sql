-- pgq 0005: inspection views, for psql and dashboards. Read-only; they never select payloads.
--
--   job_counts     jobs per (queue, state), with 'available' split into waiting (due) and scheduled
--   queue_lag      per queue: due jobs waiting, and the age of the oldest one (the lag)
--   failing_tasks  per task: failed jobs, jobs waiting for a retry, the last error
--   running_jobs   running jobs with their worker (host, pid, heartbeat), lease and progress
--
-- `pgq stats` and `pgq jobs` read the same columns. See docs/inspection.md.

CREATE VIEW {{schema}}.job_counts AS
SELECT
  j.queue,
  CASE WHEN j.state = 'available' AND j.run_at > now() THEN 'scheduled'
       WHEN j.state = 'available' THEN 'waiting'
       ELSE j.state END AS state,
  count(*)::bigint AS jobs
FROM {{schema}}.jobs AS j
GROUP BY 1, 2;

COMMENT ON VIEW {{schema}}.job_counts IS
  'pgq: number of jobs per queue and state (available split into waiting = due now, scheduled = due later).';

-- Uses the claim index (queue, priority, run_at, id) WHERE state = 'available': only runnable rows.
CREATE VIEW {{schema}}.queue_lag AS
SELECT
  j.queue,
  count(*) FILTER (WHERE j.run_at <= now())::bigint AS waiting,
  count(*) FILTER (WHERE j.run_at > now())::bigint AS scheduled,
  min(j.run_at) FILTER (WHERE j.run_at <= now()) AS oldest_waiting_since,
  coalesce(now() - min(j.run_at) FILTER (WHERE j.run_at <= now()), interval '0') AS lag
FROM {{schema}}.jobs AS j
WHERE j.state = 'available'
GROUP BY j.queue;

COMMENT ON VIEW {{schema}}.queue_lag IS
  'pgq: per queue, due jobs waiting to be claimed and how long the oldest has waited (lag).';

CREATE VIEW {{schema}}.failing_tasks AS
SELECT
  j.task,
  count(*) FILTER (WHERE j.state = 'failed')::bigint AS failed,
  count(*) FILTER (WHERE j.state = 'available')::bigint AS retrying,
  max(j.finished_at) FILTER (WHERE j.state = 'failed') AS last_failed_at,
  (array_agg(j.errors -> -1 ->> 'message' ORDER BY coalesce(j.finished_at, j.run_at) DESC))[1] AS last_error
FROM {{schema}}.jobs AS j
WHERE j.state = 'failed'
   OR (j.state = 'available' AND j.errors <> '[]'::jsonb)
GROUP BY j.task;

COMMENT ON VIEW {{schema}}.failing_tasks IS
  'pgq: tasks with failed jobs or jobs waiting for a retry after an error, with the latest error message.';

CREATE VIEW {{schema}}.running_jobs AS
SELECT
  j.id,
  j.task,
  j.queue,
  j.attempts,
  j.max_attempts,
  j.started_at,
  now() - j.started_at AS running_for,
  j.lease_expires_at,
  j.lease_expires_at - now() AS lease_remaining,
  j.cancel_requested_at,
  j.progress,
  j.locked_by AS worker_id,
  w.hostname AS worker_hostname,
  w.pid AS worker_pid,
  w.heartbeat_at AS worker_heartbeat_at
FROM {{schema}}.jobs AS j
LEFT JOIN {{schema}}.workers AS w ON w.id = j.locked_by
WHERE j.state = 'running';

COMMENT ON VIEW {{schema}}.running_jobs IS
  'pgq: running jobs with their worker (null when the worker row is gone), lease and progress.';

REVOKE ALL ON {{schema}}.job_counts, {{schema}}.queue_lag, {{schema}}.failing_tasks, {{schema}}.running_jobs
  FROM PUBLIC;
