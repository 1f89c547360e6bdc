-- The W3C trace context (`traceparent`) of the request that submitted the job, if it had
-- one: it goes with the job to the worker that runs it, and into the job's log lines.
ALTER TABLE jobs ADD COLUMN traceparent TEXT;
