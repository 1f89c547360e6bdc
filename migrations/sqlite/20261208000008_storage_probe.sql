-- Where the writer proves that the disk has room again after a write failed for lack of
-- space (SQLITE_FULL): it writes a row of a few hundred KB here (under a random id), then
-- deletes it. Empty otherwise.
CREATE TABLE storage_probe (
    id INTEGER PRIMARY KEY,
    pad BLOB NOT NULL
);
