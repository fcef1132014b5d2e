-- pgq 0016: one index of running jobs instead of two.
--
-- Every claim moves a job to 'running', and a job entering 'running' is inserted into each index
-- whose predicate is state = 'running'. There were two: jobs_lease_idx (lease_expires_at, 0001) for
-- the rescuer, and jobs_running_queue_idx (queue, concurrency_key, 0012/0014) for flow control's
-- count of a queue's (or a key's) running jobs. Measured on PostgreSQL 15 (claims of 100 jobs,
-- 50,000 jobs per run, the claiming backend's CPU, a shared machine): with both indexes the claim
-- cost 27-30 us of PostgreSQL CPU per job, with either one 21-27, with neither 19.
--
-- jobs_lease_idx goes. The rescuer now finds expired leases through jobs_running_queue_idx: a scan
-- of the running jobs (as many as the fleet's slots, not the table's rows) every rescue interval,
-- and one rescuer at a time (packages/pgq/src/sql/lease-queries.ts takes a transaction-level
-- advisory lock; the others skip the scan). A second gain: lease_expires_at is no longer indexed,
-- so a heartbeat's lease renewal can be a HOT update (the table's fillfactor of 70 was meant for it).

DROP INDEX IF EXISTS {{schema}}.jobs_lease_idx;

COMMENT ON INDEX {{schema}}.jobs_running_queue_idx IS
  'pgq: running jobs by queue and concurrency key: flow control counts them (claim_limited), the rescuer scans them for expired leases.';
