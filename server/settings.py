"""Deployment settings, read from the environment or a .env file.

Every field has a working default, so Switchboard starts with no keys and no services:
no model means the offline brain, no DATABASE_URL means an embedded PostgreSQL.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelSettings(BaseSettings):
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


class EmbeddingSettings(BaseSettings):
    """An OpenAI-compatible embeddings endpoint; unset model means offline WordLlama."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None


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
    """Chroma server URL; unset runs Chroma embedded in data_dir."""
    knowledge_collection: str = "help_center"
    """Chroma collection that holds the help center."""

    router: ModelSettings = Field(default_factory=ModelSettings)
    """The cheap model that classifies every message."""
    agent: ModelSettings = Field(default_factory=ModelSettings)
    """The capable model that runs the tool loop."""

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
    max_verification_attempts: int = 3
    """Failed identity checks before the customer is locked out."""
    lockout_minutes: int = 15
    """How long a lockout lasts."""
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    """How chunks and questions are embedded (EMBEDDINGS__MODEL, __BASE_URL, __API_KEY)."""
    retrieval_k: int = 4
    """Passages retrieved per question."""
    knowledge_locale: str | None = None
    """Only retrieve chunks of this locale (e.g. "en"); unset searches every locale."""
    retrieval_min_similarity: float = 0.25
    """Dense similarity (0-1) a passage needs unless it also matches the question's words;
    below it the passage is dropped, so an off-topic question gets none and a human is offered."""
    allowed_url_hosts: list[str] = [
        "help.harborandpine.example",
        "harborandpine.example",
        "track.harborandpine.example",
    ]
    """Hosts a reply may link to; any other URL is removed by the output guardrail."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
