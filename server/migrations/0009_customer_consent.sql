-- Consent and first contact (server/consent/store.py owns the table): one row per conversation
-- key (the number's digits or "bsuid:..."). status: 'opted_in' (the customer wrote first, or
-- sent START), 'opted_out' (STOP and its equivalents), 'unknown' (only the business's first
-- identification is noted so far). The opt-in in force keeps its time and source; every change
-- is also an audit event (audit_events, kinds opt_in / opt_out).
CREATE TABLE IF NOT EXISTS customer_consent (
    conversation_key text PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('opted_in', 'opted_out', 'unknown')),
    opted_in_at timestamptz,
    opted_in_source text,
    opted_out_at timestamptz,
    opted_out_source text,
    identified_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The outbox sends nothing to an opted-out customer except the confirmation of their STOP or
-- START itself (server/outbox/opt_out.py): those rows are marked.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS consent_notice boolean NOT NULL DEFAULT false;
