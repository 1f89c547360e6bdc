-- A job created by `POST /jobs/{id}/retry`: the job it retries (no foreign key: the original
-- may be deleted or pruned first, and the link then just names a job that is gone).
ALTER TABLE jobs ADD COLUMN retry_of TEXT;
