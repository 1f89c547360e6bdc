-- Where the writer proves that the database has room again after a write failed for lack
-- of space (SQLSTATE 53100 disk_full): it writes a row of a few hundred KB here (under a
-- random id), then deletes it. Empty otherwise.
CREATE TABLE storage_probe (
    id bigint PRIMARY KEY,
    pad bytea NOT NULL
);
