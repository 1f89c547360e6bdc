-- The claim filters queued jobs by kind (one class of kinds at a time). Without kind in the
-- queued index the planner preferred jobs_kind_id, which scans every job of that kind ever
-- run; with it, a claim reads only queued jobs.
DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs (kind, priority DESC, created_at, id) WHERE status = 'queued';
