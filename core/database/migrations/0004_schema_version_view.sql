-- pgrt schema, part 4: `pgrt.schema_version` as a view, for pgrt releases from before versioned migrations. They
-- kept one number in a table of that name (5 for what parts 1-4 install) and read it at start: such a release runs
-- on a database at this level (its `CREATE TABLE IF NOT EXISTS` skips the view) and refuses a newer one ("pgrt
-- schema version 6 is newer than this pgrt (5)") instead of failing half-way through its own migrations.
CREATE VIEW pgrt.schema_version AS
  SELECT max(version) + 1 AS version FROM pgrt.migrations WHERE set_name = 'pgrt';
GRANT SELECT ON pgrt.schema_version TO PUBLIC;
