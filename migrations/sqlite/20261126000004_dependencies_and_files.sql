-- The I/O kinds, dependencies between jobs, and the pages `fetch_urls` saves.

INSERT INTO job_kinds (name) VALUES ('fetch_urls'), ('word_count');

-- The ids a job waits for (a JSON array as submitted; NULL for none), and how many of them
-- are not final yet. A queued job is claimable only once `waiting_on` is 0.
ALTER TABLE jobs ADD COLUMN depends_on TEXT CHECK (depends_on IS NULL OR json_valid(depends_on));
ALTER TABLE jobs ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0 CHECK (waiting_on >= 0);

-- Waiting jobs stay out of the claim index: however many wait, a claim reads only the
-- claimable ones.
DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs (kind, priority DESC, created_at, id)
    WHERE status = 'queued' AND waiting_on = 0;

-- Who waits for whom, while they wait: one row per (dependency not final yet, dependent).
-- The rows of a dependency go when it becomes final and releases its dependents.
CREATE TABLE job_waits (
    dep_id TEXT NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (dep_id, job_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX job_waits_job ON job_waits (job_id);

-- Files a job saved (the pages of `fetch_urls`), kept with the job and deleted with it.
CREATE TABLE job_files (
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- Position of the input the file comes from (the URL's index).
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255 AND instr(name, '/') = 0),
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size = length(content)),
    content      BLOB NOT NULL,
    PRIMARY KEY (job_id, idx),
    UNIQUE (job_id, name)
) STRICT;
-- Everything but the content, in order: listing a job's files and planning the batches of a
-- word_count read this index only, never the pages (each page fills its own table pages).
CREATE INDEX job_files_listing ON job_files (job_id, idx, name, content_type, size);
