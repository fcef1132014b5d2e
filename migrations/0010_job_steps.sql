-- pgq 0010: durable steps inside a job (`ctx.step`, `ctx.sleep`; docs/workflows.md "Durable steps").
--
--   jobs.steps   NULL for a job that never used a step. Otherwise an object keyed by step name:
--                {"<name>": {"result": <json>, "attempt": n, "at": "<time>"}} for a `ctx.step` that
--                succeeded (no "result" key when the step returned undefined), and
--                {"pgq:sleep:<n>": {"until": "<time>", "attempt": n, "at": "<time>"}} for the n-th
--                `ctx.sleep` of the handler. Written only by the worker holding the job's lease
--                (fenced by lease_token); read back by the claim, so a retry or a rescued run skips
--                the steps already done. No index: it is never searched.
--
-- Independent of every other migration (one nullable column, no default to rewrite): it applies
-- after 0008 or after any 0009.

ALTER TABLE {{schema}}.jobs ADD COLUMN steps jsonb;

COMMENT ON COLUMN {{schema}}.jobs.steps IS
  'pgq: results of the job''s durable steps (ctx.step) and its sleeps (ctx.sleep), keyed by step name; NULL when none.';
