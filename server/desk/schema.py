"""Tables of the human desk. Every change of a conversation's state is an event row."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_agents (
    id text PRIMARY KEY, name text NOT NULL, password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('agent', 'supervisor')),
    team text NOT NULL DEFAULT 'support', active boolean NOT NULL DEFAULT true,
    last_seen_at timestamptz);
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
CREATE TABLE IF NOT EXISTS desk_events (
    id bigserial PRIMARY KEY, conversation_key text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL,   -- bot, agent:<id>, system, customer
    kind text NOT NULL,   -- transition, note, agent_message, customer_message, sla_miss,
                          -- sla_warning, rerouted, reassigned, discarded_bot_reply, csat
    from_state text, to_state text, reason text, payload jsonb NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS desk_events_conversation ON desk_events (conversation_key, id);
"""
