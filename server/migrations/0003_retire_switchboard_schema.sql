-- Before these migrations, server/database.py apply_schema re-ran each module's DDL whenever
-- its text changed and kept the digests in switchboard_schema. schema_migrations replaces it.
DROP TABLE IF EXISTS switchboard_schema;
