-- The audit trail (graph/base/audit.py): one append-only, redacted stream of every decision,
-- after seed 004's wa_events. A conversation is named by its opaque ref
-- (server/conversation_ids.py), never by the customer's number; payloads are redacted before
-- they are written. Rows are never updated: erasure deletes a conversation's rows and leaves a
-- tombstone (kind 'erasure'), and retention deletes rows older than its period.
CREATE TABLE IF NOT EXISTS audit_events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    conversation_ref text,
    turn integer,
    actor text NOT NULL,
    kind text NOT NULL,
    reason text,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    model text,
    tokens_in integer,
    tokens_out integer,
    cost_usd numeric(10, 5),
    prompt_version text,
    intent text,
    confidence real
);
CREATE INDEX IF NOT EXISTS audit_events_conversation ON audit_events (conversation_ref, at);
CREATE INDEX IF NOT EXISTS audit_events_kind_at ON audit_events (kind, at);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
