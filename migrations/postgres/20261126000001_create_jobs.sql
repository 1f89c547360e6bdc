-- Jobs on PostgreSQL: the queue and the record of every job, shared by every faena instance
-- pointed at this database. The same tables as on SQLite, in PostgreSQL's own types. Times are
-- timestamptz with millisecond values.

CREATE TABLE job_kinds (
    name text PRIMARY KEY
);

INSERT INTO job_kinds (name)
VALUES ('count_primes'), ('factorial'), ('sleep'), ('fetch_urls'), ('word_count');

CREATE TABLE jobs (
    -- UUID v7: binary order is creation order.
    id               uuid PRIMARY KEY,
    kind             text NOT NULL REFERENCES job_kinds (name),
    -- json (not jsonb): kept as submitted, key order included.
    params           json NOT NULL,
    status           text NOT NULL CHECK (status IN
                         ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    priority         bigint NOT NULL CHECK (priority BETWEEN -100 AND 100),
    timeout_ms       bigint NOT NULL CHECK (timeout_ms > 0),
    attempt          bigint NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     bigint NOT NULL CHECK (max_attempts >= 1),
    -- Fencing token: bumped by every claim; writes about a run must present it.
    fence            bigint NOT NULL DEFAULT 0,
    -- The instance running the job and until when its lease holds.
    owner            text,
    lease_expires_at timestamptz,
    -- Not claimable before this time (retry back-off, scheduled jobs).
    run_after        timestamptz NOT NULL,
    idempotency_key  text UNIQUE,
    cancel_requested boolean NOT NULL DEFAULT false,
    progress_done    bigint,
    progress_total   bigint,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    result           json,
    error_code       text,
    error_message    text,
    -- The ids the job waits for, as submitted (a JSON array; NULL for none), and how many of
    -- them are not final yet. A queued job is claimable only once `waiting_on` is 0.
    depends_on       json,
    waiting_on       bigint NOT NULL DEFAULT 0 CHECK (waiting_on >= 0),
    -- Set (under the row lock) by every job that starts waiting for this one: the write
    -- that makes it final learns from its own row whether it has dependents to release.
    has_dependents   boolean NOT NULL DEFAULT false
);

-- The claim order, per kind: highest priority, then oldest. Waiting jobs stay out of it.
CREATE INDEX jobs_queued ON jobs (kind, priority DESC, created_at, id)
    WHERE status = 'queued' AND waiting_on = 0;
-- The rescuer: running jobs by lease expiry.
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
-- GET /jobs filters, newest first.
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_kind_id ON jobs (kind, id);
CREATE INDEX jobs_status_kind_id ON jobs (status, kind, id);

-- Who waits for whom, while they wait: one row per (dependency not final yet, dependent).
CREATE TABLE job_waits (
    dep_id uuid NOT NULL,
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (dep_id, job_id)
);
CREATE INDEX job_waits_job ON job_waits (job_id);

-- Files a job saved (the pages of `fetch_urls`), kept with the job and deleted with it, so
-- that any instance serves them.
CREATE TABLE job_files (
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- Position of the input the file comes from (the URL's index).
    idx          bigint NOT NULL CHECK (idx >= 0),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 255 AND strpos(name, '/') = 0),
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size = octet_length(content)),
    content      bytea NOT NULL,
    PRIMARY KEY (job_id, idx),
    UNIQUE (job_id, name)
);
-- Pages are mostly compressed already: store them out of line without compressing them
-- again, which also lets a ranged read fetch only the chunks it needs.
ALTER TABLE job_files ALTER COLUMN content SET STORAGE EXTERNAL;
-- Everything but the content, in order: listing a job's files and planning the batches of a
-- word_count read this index only.
CREATE INDEX job_files_listing ON job_files (job_id, idx) INCLUDE (name, content_type, size);
