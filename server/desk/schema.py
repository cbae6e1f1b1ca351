"""Tables of the human desk. Every change of a conversation's state is an event row."""

from server import conversation_ids

# The ref function comes first: the trigger below gives every desk row its opaque id.
SCHEMA = conversation_ids.SCHEMA + """
CREATE TABLE IF NOT EXISTS desk_agents (
    id text PRIMARY KEY, name text NOT NULL, password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('agent', 'supervisor')),
    team text NOT NULL DEFAULT 'support', active boolean NOT NULL DEFAULT true,
    last_seen_at timestamptz);
-- demo accounts (server/console/demo_accounts.py): published passwords, demo mode only
ALTER TABLE desk_agents ADD COLUMN IF NOT EXISTS demo boolean NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS desk_sessions (
    token_hash text PRIMARY KEY, agent_id text NOT NULL REFERENCES desk_agents(id),
    csrf_token text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS desk_conversations (
    key text PRIMARY KEY,                 -- the customer key (wa_id digits or bsuid:...)
    phone text, provider text NOT NULL DEFAULT 'meta',
    state text NOT NULL DEFAULT 'BOT'
        CHECK (state IN ('BOT', 'PENDING_AGENT', 'AGENT', 'CLOSED', 'DORMANT')),
    assigned_agent text REFERENCES desk_agents(id), team text NOT NULL DEFAULT 'support',
    customer_name text, tier text NOT NULL DEFAULT 'retail', topic text,
    priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    reason text, summary text, handoff jsonb, reference text,
    mode text CHECK (mode IN ('warm', 'cold')),
    first_response_due_at timestamptz, resolution_due_at timestamptz,
    first_response_at timestamptz, pending_since timestamptz,
    last_customer_at timestamptz, callback_time text,
    opened_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS desk_queue ON desk_conversations (state, first_response_due_at);
-- the reply time promised to a customer handed off while the desk was closed, or just before it
-- closed (server/desk/sla.py callback_at): the console lists these first until answered
ALTER TABLE desk_conversations ADD COLUMN IF NOT EXISTS callback_at timestamptz;
-- the opaque id URLs, alerts and logs use (server/conversation_ids.py), set on every insert
ALTER TABLE desk_conversations ADD COLUMN IF NOT EXISTS ref text;
CREATE UNIQUE INDEX IF NOT EXISTS desk_conversations_ref ON desk_conversations (ref);
CREATE OR REPLACE FUNCTION desk_conversations_set_ref() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.ref := conversation_ref(NEW.key); RETURN NEW; END $$;
DROP TRIGGER IF EXISTS desk_conversations_ref ON desk_conversations;
CREATE TRIGGER desk_conversations_ref BEFORE INSERT OR UPDATE OF key ON desk_conversations
    FOR EACH ROW EXECUTE FUNCTION desk_conversations_set_ref();
UPDATE desk_conversations SET ref = conversation_ref(key) WHERE ref IS NULL;
CREATE TABLE IF NOT EXISTS desk_events (
    id bigserial PRIMARY KEY, conversation_key text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL,   -- bot, agent:<id>, system, customer
    kind text NOT NULL,   -- transition, note, agent_message, customer_message, sla_miss,
                          -- sla_warning, rerouted, reassigned, discarded_bot_reply, csat,
                          -- taken_over (payload: from_agent, to_agent)
    from_state text, to_state text, reason text, payload jsonb NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS desk_events_conversation ON desk_events (conversation_key, id);
-- console password guessing (server/console/throttle.py): one row per agent id or address
CREATE TABLE IF NOT EXISTS console_login_throttle (
    scope text NOT NULL CHECK (scope IN ('account', 'address')),
    subject text NOT NULL,                -- SHA-256 of the id as typed (it may be a password)
    failures integer NOT NULL DEFAULT 0, last_failure_at timestamptz,
    blocked_until timestamptz, PRIMARY KEY (scope, subject));
CREATE INDEX IF NOT EXISTS console_login_throttle_age ON console_login_throttle (last_failure_at);
CREATE TABLE IF NOT EXISTS console_login_events (
    id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('failure', 'lockout')),
    agent_id text,                        -- only an existing account's id, never what was typed
    address text NOT NULL, failures integer NOT NULL, blocked_until timestamptz);
"""
