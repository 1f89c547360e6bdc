-- A job's turn: its place in line among the queued jobs of its kind and priority (claims take
-- the highest priority, then the lowest turn), in milliseconds. A job without a tenant takes
-- its created_at (first come, first served, as before); a tenant's job takes the head of that
-- line, or one past the tenant's last queued job in it, whichever is later, so that tenants
-- take turns: one with 100,000 jobs queued does not hold back another's one
-- (store::sql::insert).
-- The default (the insert's time, in ms) is for an instance of the version before, still
-- running during a rolling upgrade: its jobs take their turn as jobs without a tenant do.
-- Stable, so adding the column rewrites nothing; the backfill and the index builds below do
-- lock the table while they run.
ALTER TABLE jobs ADD COLUMN turn bigint NOT NULL
    DEFAULT (extract(epoch FROM now()) * 1000)::bigint;
UPDATE jobs SET turn = (extract(epoch FROM created_at) * 1000)::bigint
    WHERE status IN ('queued', 'running');

DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs (kind, priority DESC, turn, id)
    WHERE status = 'queued' AND waiting_on = 0;
-- A tenant's last turn in a line (among its jobs that wait for nothing).
CREATE INDEX jobs_tenant_turn ON jobs (tenant, kind, priority, turn)
    WHERE status = 'queued' AND waiting_on = 0 AND tenant IS NOT NULL;
