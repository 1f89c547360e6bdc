-- A job's turn: its place in line among the queued jobs of its kind and priority (claims take
-- the highest priority, then the lowest turn). A job without a tenant takes its created_at
-- (first come, first served, as before); a tenant's job takes the head of that line, or one
-- past the tenant's last queued job in it, whichever is later, so that tenants take turns:
-- one with 100,000 jobs queued does not hold back another's one (store::sql::insert).
ALTER TABLE jobs ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET turn = created_at WHERE status IN ('queued', 'running');

DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs (kind, priority DESC, turn, id)
    WHERE status = 'queued' AND waiting_on = 0;
-- A tenant's last turn in a line (among its jobs that wait for nothing).
CREATE INDEX jobs_tenant_turn ON jobs (tenant, kind, priority, turn)
    WHERE status = 'queued' AND waiting_on = 0 AND tenant IS NOT NULL;
