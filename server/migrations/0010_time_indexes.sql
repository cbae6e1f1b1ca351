-- Reading and pruning by time (issue 14): `switchboard report` reads a window of customer
-- messages and replies (server/reporting/facts.py), and retention blanks and deletes rows
-- older than their period in batches (server/privacy/prune.py). Without these indexes both
-- scan the whole table.
CREATE INDEX IF NOT EXISTS inbound_received_at ON inbound_messages (received_at);
CREATE INDEX IF NOT EXISTS outbox_created_at ON outbox (created_at);
CREATE INDEX IF NOT EXISTS turns_committed_at ON turns (committed_at);
