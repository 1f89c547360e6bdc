-- Jobs: the queue and the record of every job.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE job_kinds (
    name TEXT PRIMARY KEY
) STRICT;

INSERT INTO job_kinds (name) VALUES ('count_primes'), ('factorial'), ('sleep');

CREATE TABLE jobs (
    -- UUID v7, hyphenated lower case: text order is creation order.
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL REFERENCES job_kinds (name),
    params           TEXT NOT NULL CHECK (json_valid(params)),
    status           TEXT NOT NULL CHECK (status IN
                         ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    priority         INTEGER NOT NULL CHECK (priority BETWEEN -100 AND 100),
    timeout_ms       INTEGER NOT NULL CHECK (timeout_ms > 0),
    attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    -- Fencing token: bumped by every claim; writes about a run must present it.
    fence            INTEGER NOT NULL DEFAULT 0,
    -- The instance running the job and until when its lease holds.
    owner            TEXT,
    lease_expires_at INTEGER,
    -- Not claimable before this time (retry back-off, scheduled jobs).
    run_after        INTEGER NOT NULL,
    idempotency_key  TEXT UNIQUE,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    progress_done    INTEGER,
    progress_total   INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    result           TEXT CHECK (result IS NULL OR json_valid(result)),
    error_code       TEXT,
    error_message    TEXT
) STRICT;

-- The claim order: highest priority, then oldest.
CREATE INDEX jobs_queued ON jobs (priority DESC, created_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_kind_id ON jobs (kind, id);
