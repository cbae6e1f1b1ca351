-- Every table Switchboard keeps in PostgreSQL (LangGraph's checkpoint tables are made by its
-- own saver). Written so that it also adopts a database made before migrations existed (by
-- server/database.py apply_schema, up to commit 3943256): every CREATE is IF NOT EXISTS, and
-- the "older tables" lines add what such a database may lack. On a new database they do nothing.

-- Opaque conversation ids (server/conversation_ids.py): the HMAC secret as inner and outer pads,
-- and the same ref Python computes: 'c_' || the first 20 hex digits of the HMAC.
CREATE TABLE IF NOT EXISTS conversation_ref_key (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    inner_pad bytea NOT NULL, outer_pad bytea NOT NULL);
CREATE OR REPLACE FUNCTION conversation_ref(conversation_key text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT 'c_' || left(encode(sha256(outer_pad || sha256(inner_pad
        || convert_to(conversation_key, 'UTF8'))), 'hex'), 20)
    FROM conversation_ref_key $$;

-- The demo shop (tools/shop.py).
CREATE TABLE IF NOT EXISTS shop_customers (
    id text PRIMARY KEY, name text NOT NULL, phone text UNIQUE, email text NOT NULL,
    postcode text NOT NULL, tier text NOT NULL DEFAULT 'retail');
CREATE TABLE IF NOT EXISTS shop_orders (
    id text PRIMARY KEY, customer_id text NOT NULL REFERENCES shop_customers(id),
    status text NOT NULL, placed_at timestamptz NOT NULL, eta date, carrier text,
    tracking_url text, total_gbp numeric(10,2) NOT NULL, items text[] NOT NULL);
CREATE INDEX IF NOT EXISTS shop_orders_customer ON shop_orders (customer_id, placed_at DESC);
CREATE SEQUENCE IF NOT EXISTS shop_ticket_seq START 5001;
CREATE TABLE IF NOT EXISTS shop_tickets (
    id text PRIMARY KEY DEFAULT 'T-' || nextval('shop_ticket_seq'),
    customer_id text NOT NULL REFERENCES shop_customers(id), subject text NOT NULL,
    status text NOT NULL DEFAULT 'open', priority text NOT NULL DEFAULT 'normal',
    notes text[] NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now(),
    idempotency_key text UNIQUE);  -- a turn run again opens no second ticket
ALTER TABLE shop_tickets ADD COLUMN IF NOT EXISTS idempotency_key text UNIQUE;  -- older tables

-- The verification ledger (tools/verification.py): attempts hold no personal data.
CREATE TABLE IF NOT EXISTS verification_attempts (
    id bigserial PRIMARY KEY, at timestamptz NOT NULL, number_key text NOT NULL,
    order_ref text, customer_id text,
    outcome text NOT NULL CHECK (outcome IN ('verified', 'failed', 'refused')),
    reason text NOT NULL, failures integer NOT NULL CHECK (failures >= 0), turn_key text);
CREATE INDEX IF NOT EXISTS verification_by_number ON verification_attempts (number_key, at);
CREATE INDEX IF NOT EXISTS verification_by_customer ON verification_attempts (customer_id, at)
    WHERE failures > 0;
CREATE INDEX IF NOT EXISTS verification_by_time ON verification_attempts (at) WHERE failures > 0;
CREATE INDEX IF NOT EXISTS verification_successes ON verification_attempts (number_key, customer_id)
    WHERE outcome = 'verified';
CREATE INDEX IF NOT EXISTS verification_by_turn ON verification_attempts (turn_key)
    WHERE turn_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS verification_key (
    id integer PRIMARY KEY CHECK (id = 1), key text NOT NULL);

-- The inbox (server/inbox.py), turn fences and turn records.
CREATE TABLE IF NOT EXISTS inbound_messages (
    id bigserial PRIMARY KEY,
    provider text NOT NULL, provider_message_id text NOT NULL,
    conversation_key text NOT NULL, phone text, kind text NOT NULL, body text NOT NULL,
    needs_turn boolean NOT NULL, sent_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending',  -- pending, in_turn, done, stale, skipped
    turn_key text, payload jsonb NOT NULL,
    truncated_from integer,  -- the text's length before it was cut to 4,096 (NULL: not cut)
    UNIQUE (provider, provider_message_id));
ALTER TABLE inbound_messages ADD COLUMN IF NOT EXISTS truncated_from integer;  -- older tables
CREATE INDEX IF NOT EXISTS inbound_pending ON inbound_messages (conversation_key, state, sent_at, id);
CREATE INDEX IF NOT EXISTS inbound_unfinished ON inbound_messages (received_at)
    WHERE state IN ('pending', 'in_turn');
CREATE SEQUENCE IF NOT EXISTS turn_fence_seq;
CREATE TABLE IF NOT EXISTS conversation_fences (
    conversation_key text PRIMARY KEY, fence bigint NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    turn_key text PRIMARY KEY,
    conversation_key text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('replied', 'handoff', 'silent')),
    reason text,
    messages integer NOT NULL,
    replies integer NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS turns_conversation ON turns (conversation_key, committed_at);

-- The outbox (server/outbox/). The status list is server/outbox/queue.py STATUSES: 'sending' is
-- claimed until claimed_until; 'unconfirmed' waits for a status webhook, then is sent again.
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    conversation_key text NOT NULL,
    recipient text NOT NULL,
    provider text NOT NULL CHECK (provider IN ('meta', 'twilio')),
    kind text NOT NULL CHECK (kind IN ('text', 'template', 'read_receipt')),
    body text, template jsonb, reply_to_message_id text,
    status text NOT NULL DEFAULT 'pending' CONSTRAINT outbox_status_check CHECK (status IN (
        'pending', 'sending', 'unconfirmed', 'sent', 'delivered', 'read', 'failed', 'dead',
        'skipped', 'unknown')),
    provider_message_id text,
    attempts integer NOT NULL DEFAULT 0,          -- provider calls made
    resends integer NOT NULL DEFAULT 0,           -- of them, sends again after an unknown outcome
    next_attempt_at timestamptz NOT NULL DEFAULT now(),  -- when due; once claimed, when it is
                                                  -- sent again unless a status settles it
    claimed_until timestamptz,                    -- the claim's deadline while 'sending'
    last_error jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    tell_desk boolean NOT NULL DEFAULT false);    -- a 'failed' status: the worker tells the desk
CREATE UNIQUE INDEX IF NOT EXISTS outbox_provider_message_id
    ON outbox (provider_message_id) WHERE provider_message_id IS NOT NULL;
-- Older tables, made before one send at a time per recipient (no claimed_until yet): the new
-- columns, the 'unconfirmed' status, claim deadlines for rows in flight (the old lease was 60 s).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'outbox'::regclass
                   AND attname = 'claimed_until' AND NOT attisdropped) THEN
        ALTER TABLE outbox ADD COLUMN resends integer NOT NULL DEFAULT 0,
            ADD COLUMN claimed_until timestamptz, DROP CONSTRAINT IF EXISTS outbox_status_check,
            ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sending',
                'unconfirmed', 'sent', 'delivered', 'read', 'failed', 'dead', 'skipped', 'unknown'));
        UPDATE outbox SET claimed_until = updated_at + interval '60 seconds' WHERE status = 'sending';
        DROP INDEX IF EXISTS outbox_due;
        DROP INDEX IF EXISTS outbox_open_per_recipient;
        DROP INDEX IF EXISTS outbox_in_flight;
    END IF;
END $$;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS tell_desk boolean NOT NULL DEFAULT false;  -- older
CREATE INDEX IF NOT EXISTS outbox_due_or_unconfirmed
    ON outbox (next_attempt_at, id) WHERE status IN ('pending', 'unconfirmed');
CREATE INDEX IF NOT EXISTS outbox_open_by_recipient
    ON outbox (provider, recipient, id) WHERE status IN ('pending', 'sending', 'unconfirmed');
CREATE INDEX IF NOT EXISTS outbox_claims ON outbox (claimed_until) WHERE status = 'sending';
CREATE INDEX IF NOT EXISTS outbox_tell_desk ON outbox (id) WHERE tell_desk;
-- Recent delivery problems, counted on /readyz and listed in the console.
CREATE INDEX IF NOT EXISTS outbox_problems ON outbox (updated_at)
    WHERE status IN ('failed', 'dead', 'unknown') AND kind <> 'read_receipt';

-- The human desk (server/desk/): agents, sessions, who owns each conversation, and every change
-- of a conversation's state as an event row.
CREATE TABLE IF NOT EXISTS desk_agents (
    id text PRIMARY KEY, name text NOT NULL, password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('agent', 'supervisor')),
    team text NOT NULL DEFAULT 'support', active boolean NOT NULL DEFAULT true,
    last_seen_at timestamptz,
    demo boolean NOT NULL DEFAULT false);  -- published passwords, demo mode only
ALTER TABLE desk_agents ADD COLUMN IF NOT EXISTS demo boolean NOT NULL DEFAULT false;  -- older
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
    opened_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    -- the reply time promised to a customer handed off while the desk was closed, or just before
    -- it closed (server/desk/sla.py callback_at): the console lists these first until answered
    callback_at timestamptz,
    ref text);                            -- the opaque id, set by the trigger below
ALTER TABLE desk_conversations ADD COLUMN IF NOT EXISTS callback_at timestamptz;  -- older tables
ALTER TABLE desk_conversations ADD COLUMN IF NOT EXISTS ref text;                 -- older tables
CREATE INDEX IF NOT EXISTS desk_queue ON desk_conversations (state, first_response_due_at);
CREATE UNIQUE INDEX IF NOT EXISTS desk_conversations_ref ON desk_conversations (ref);
-- Every insert gets its ref, whoever inserts; the console resolves a URL's ref by this column.
CREATE OR REPLACE FUNCTION desk_conversations_set_ref() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.ref := conversation_ref(NEW.key); RETURN NEW; END $$;
DROP TRIGGER IF EXISTS desk_conversations_ref ON desk_conversations;
CREATE TRIGGER desk_conversations_ref BEFORE INSERT OR UPDATE OF key ON desk_conversations
    FOR EACH ROW EXECUTE FUNCTION desk_conversations_set_ref();
UPDATE desk_conversations SET ref = conversation_ref(key) WHERE ref IS NULL;  -- older rows
CREATE TABLE IF NOT EXISTS desk_events (
    id bigserial PRIMARY KEY, conversation_key text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL,   -- bot, agent:<id>, system, customer
    kind text NOT NULL,   -- transition, note, agent_message, customer_message, sla_miss,
                          -- sla_warning, rerouted, reassigned, discarded_bot_reply, csat,
                          -- taken_over (payload: from_agent, to_agent)
    from_state text, to_state text, reason text, payload jsonb NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS desk_events_conversation ON desk_events (conversation_key, id);
-- Console password guessing (server/console/throttle.py): one row per agent id or address.
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
-- Satisfaction ratings (server/desk/csat.py), asked by whoever resolved the conversation.
CREATE TABLE IF NOT EXISTS desk_csat (
    id bigserial PRIMARY KEY,
    conversation_key text NOT NULL,
    agent_id text NOT NULL,                -- who resolved the conversation and asked
    asked_at timestamptz NOT NULL DEFAULT now(),
    score smallint CHECK (score BETWEEN 1 AND 5),
    raw_kind text CHECK (raw_kind IN ('digit', 'word', 'emoji')),
    rated_at timestamptz,
    closed_at timestamptz);                -- stopped accepting ratings (customer moved on)
CREATE INDEX IF NOT EXISTS desk_csat_conversation ON desk_csat (conversation_key, id);
CREATE INDEX IF NOT EXISTS desk_csat_open ON desk_csat (conversation_key) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS desk_csat_rated ON desk_csat (rated_at) WHERE score IS NOT NULL;

-- Messages held while a human owns the conversation (server/conversations.py).
CREATE TABLE IF NOT EXISTS held_messages (
    id bigserial PRIMARY KEY, thread_id text NOT NULL, body text NOT NULL,
    source_key text UNIQUE, received_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS held_messages_thread ON held_messages (thread_id, id);
ALTER TABLE held_messages ADD COLUMN IF NOT EXISTS source_key text UNIQUE;  -- older tables

-- Customers' files (server/media/jobs.py): one row per inbound media message, the fetch job
-- and then the record agents see; the key that signs console media links.
CREATE TABLE IF NOT EXISTS inbound_media (
    id bigserial PRIMARY KEY,
    provider text NOT NULL, provider_message_id text NOT NULL,
    conversation_key text NOT NULL, kind text NOT NULL,
    provider_media_id text,
    source_url text,  -- Twilio's media URL; cleared once the job ends
    declared_type text, filename text,  -- as the sender said; the file name redacted
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'fetching', 'stored', 'refused', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    reason text,  -- why it was refused, or the last failure
    content_type text, size_bytes bigint, sha256 text, storage_key text,
    transcript text,  -- redacted
    transcript_state text,  -- NULL: not asked for; done, empty or failed
    created_at timestamptz NOT NULL DEFAULT now(), settled_at timestamptz,
    UNIQUE (provider, provider_message_id));
CREATE INDEX IF NOT EXISTS inbound_media_due ON inbound_media (next_attempt_at)
    WHERE state IN ('pending', 'fetching');
CREATE INDEX IF NOT EXISTS inbound_media_conversation ON inbound_media (conversation_key, id);
CREATE TABLE IF NOT EXISTS media_link_key (
    id boolean PRIMARY KEY DEFAULT true CHECK (id), secret bytea NOT NULL);
