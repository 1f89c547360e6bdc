-- Retries, idempotency keys, API keys and retention.

-- Every attempt that ended without succeeding, oldest first:
-- [{"attempt", "code", "message", "at", "instance"}]; NULL while there is none.
ALTER TABLE jobs ADD COLUMN errors TEXT CHECK (errors IS NULL OR json_valid(errors));

-- SHA-256 (hex) of the canonical body of the submission that carried `idempotency_key`, to
-- tell a repeat of it from a different request reusing the key. `idempotency_key` itself is
-- stored as `{tenant}/{key}` so that its UNIQUE constraint holds per API key.
ALTER TABLE jobs ADD COLUMN request_hash TEXT;

-- The API key that created the job (SHA-256 of the key, hex); NULL when the server runs
-- without API keys. Other keys do not see the job.
ALTER TABLE jobs ADD COLUMN tenant TEXT;

-- Retention: the final jobs, by when they ended.
CREATE INDEX jobs_finished ON jobs (status, finished_at) WHERE finished_at IS NOT NULL;
