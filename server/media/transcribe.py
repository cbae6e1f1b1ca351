"""Speech to text for voice notes, through an OpenAI-compatible endpoint
(POST {base_url}/audio/transcriptions: multipart file + model; answers {"text": ...}).

Configured with TRANSCRIBE__MODEL (and __BASE_URL, __API_KEY); without it there is no
transcriber and the customer is asked to type. The transcript is customer text like any other:
it enters the turn raw, is redacted there, and is kept redacted with the media record.
"""

from __future__ import annotations

import httpx

from graph.base.settings import TranscribeSettings
from server.channels.models import MAX_TEXT_CHARS, without_nul
from server.media import checks

OPENAI = "https://api.openai.com/v1"


class TranscriptionFailed(RuntimeError):
    """No transcript this time; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class Transcriber:
    """Turns voice notes into text through an OpenAI-compatible transcription endpoint."""

    def __init__(self, config: TranscribeSettings, http: httpx.AsyncClient | None = None):
        self.model, self.language = config.model, config.language
        self.url = (config.base_url or OPENAI).rstrip("/") + "/audio/transcriptions"
        key = config.api_key.get_secret_value() if config.api_key else None
        self.headers = {"authorization": f"Bearer {key}"} if key else {}
        self.http = http or httpx.AsyncClient(timeout=config.timeout_s)

    async def transcribe(self, data: bytes, content_type: str) -> str:
        """The words of one audio file (may be empty: a note of silence)."""
        form = {"model": self.model, "response_format": "json",
                **({"language": self.language} if self.language else {})}
        name = f"voice.{checks.extension(content_type)}"  # never the customer's file name
        try:
            response = await self.http.post(self.url, data=form, headers=self.headers,
                                            files={"file": (name, data, content_type)})
        except httpx.HTTPError as error:
            raise TranscriptionFailed(f"transcription endpoint unreachable: {type(error).__name__}",
                                      transient=True) from error
        if response.status_code != 200:
            transient = response.status_code in (408, 409, 429) or response.status_code >= 500
            raise TranscriptionFailed(f"transcription endpoint answered {response.status_code}",
                                      transient=transient)
        try:
            text = response.json().get("text")
        except (ValueError, AttributeError) as error:
            raise TranscriptionFailed("transcription answer is not JSON with a text",
                                      transient=False) from error
        if not isinstance(text, str):
            raise TranscriptionFailed("transcription answer has no text", transient=False)
        # Postgres refuses NUL characters; WhatsApp text is at most 4,096 characters.
        return without_nul(text).strip()[:MAX_TEXT_CHARS - 20]

    async def aclose(self) -> None:
        await self.http.aclose()


def open_transcriber(config: TranscribeSettings) -> Transcriber | None:
    """The transcriber when a model is configured, else None."""
    return Transcriber(config) if config.model else None
