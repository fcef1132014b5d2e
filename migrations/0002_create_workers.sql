-- pgq 0002: the workers table. One row per running worker process (a random id per process start,
-- never a hostname), refreshed by its heartbeat. Jobs point at their holder through jobs.locked_by.

CREATE TABLE {{schema}}.workers (
  id            uuid        PRIMARY KEY,
  hostname      text        NOT NULL,
  pid           integer     NOT NULL,
  queues        text[]      NOT NULL,
  concurrency   integer     NOT NULL,
  meta          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX workers_heartbeat_idx ON {{schema}}.workers (heartbeat_at);
