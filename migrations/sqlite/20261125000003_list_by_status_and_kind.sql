-- GET /jobs?status=S&kind=K walks this index newest first; with only the single-column
-- indexes it read every job of the kind (or sorted every queued job of the kind).
CREATE INDEX jobs_status_kind_id ON jobs (status, kind, id);
