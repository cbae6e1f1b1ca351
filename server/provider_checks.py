"""One real call to each outside service Switchboard is configured to use, and a verdict a
person can act on: model endpoints (a one-token completion, one embedding, one tiny
transcription), a Chroma server, the WhatsApp Cloud API and Twilio.

`switchboard doctor` shows them all; `switchboard serve` and `worker` check the models at start.
A verdict names the setting to fix and never quotes a secret or the provider's own text (an
OpenAI 401 quotes part of the wrong key)."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import wave
from collections.abc import Awaitable
from dataclasses import dataclass
from urllib.parse import quote

import httpx

CHECK_TIMEOUT_S = 5.0
"""Each call's limit: a right endpoint answers a one-token request well within it."""
OPENAI_URL = "https://api.openai.com/v1"
TWILIO_URL = "https://api.twilio.com"


@dataclass(frozen=True)
class Verdict:
    """How one provider answered a check, and what to fix if it failed."""

    ok: bool
    detail: str


async def bounded(check: Awaitable[Verdict], fix: str) -> Verdict:
    """A check as a whole within twice the per-call limit: a server that drips its answer
    byte by byte resets httpx's read timeout, but not this one."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S * 2):
            return await check
    except TimeoutError:
        return Verdict(False, f"no complete answer within {CHECK_TIMEOUT_S * 2:g} s: check {fix}")


def http_client(timeout: float = CHECK_TIMEOUT_S) -> httpx.AsyncClient:
    """Redirects are not followed: a redirected API call would carry its key elsewhere."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=True)


def transport_failure(error: Exception, fix: str) -> Verdict:
    """A call that got no HTTP answer at all, as the reason and the setting to look at."""
    causes = _causes(error)  # httpx wraps httpcore's error, which wraps the socket's
    text = " ".join(str(cause).lower() for cause in causes)
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Verdict(False, f"not an http(s) URL: check {fix}")
    if isinstance(error, httpx.TimeoutException):
        why = f"no answer within {CHECK_TIMEOUT_S:g} s"
    elif any(isinstance(cause, ConnectionRefusedError) for cause in causes) or "refused" in text:
        why = "connection refused: nothing listens there"
    elif any(isinstance(cause, socket.gaierror) for cause in causes) or "name or service" in text:
        why = "unknown host"
    elif "certificate" in text or "ssl" in text:
        why = "TLS failed (certificate or protocol)"
    else:
        why = f"no answer ({type(error).__name__})"
    return Verdict(False, f"unreachable: {why}: check {fix}")


def _causes(error: BaseException | None) -> list[BaseException]:
    found: list[BaseException] = []
    while error is not None and len(found) < 10:
        found.append(error)
        error = error.__cause__ or error.__context__
    return found


def http_verdict(response: httpx.Response, *, credential: str, target: str) -> Verdict:
    """An HTTP answer as a verdict: 2xx fine, 401/403 the credential, 404 the URL or name."""
    code = response.status_code
    if 200 <= code < 300:
        return Verdict(True, "ok")
    if code in (401, 403):
        return Verdict(False, f"unauthorised (HTTP {code}): check {credential}")
    if code == 404:
        return Verdict(False, f"not found (HTTP 404): check {target}")
    if code == 429:
        return Verdict(False, "rate limited or out of quota (HTTP 429)")
    if 300 <= code < 400:
        return Verdict(False, f"redirected elsewhere (HTTP {code}): check {target}")
    if code >= 500:
        return Verdict(False, f"the service failed (HTTP {code}); try again later")
    return Verdict(False, f"refused the request (HTTP {code}): check {target}")


async def _call(http: httpx.AsyncClient, method: str, url: str, fix: str,
                **kwargs) -> httpx.Response | Verdict:
    try:
        return await http.request(method, url, **kwargs)
    except (httpx.HTTPError, httpx.InvalidURL) as error:  # InvalidURL is no HTTPError
        return transport_failure(error, fix)


def _bearer(config) -> dict[str, str]:
    # What the product sends too: local endpoints (Ollama, vLLM) take any key.
    key = config.api_key.get_secret_value() if config.api_key else "unset"
    return {"authorization": f"Bearer {key}"}


def _endpoint(config) -> str:
    return (config.base_url or OPENAI_URL).rstrip("/")


async def check_chat_model(http: httpx.AsyncClient, config, prefix: str) -> Verdict:
    """A one-token completion, as the product's OpenAI-compatible client would ask for it."""
    fix = f"{prefix}__BASE_URL and {prefix}__MODEL"
    body = {"model": config.model, "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1}
    url = f"{_endpoint(config)}/chat/completions"
    answer = await _call(http, "POST", url, fix, json=body, headers=_bearer(config))
    if isinstance(answer, httpx.Response) and answer.status_code == 400 and "max_tokens" in answer.text:
        # Newer OpenAI models refuse max_tokens and want max_completion_tokens instead.
        body = {**{k: v for k, v in body.items() if k != "max_tokens"}, "max_completion_tokens": 1}
        answer = await _call(http, "POST", url, fix, json=body, headers=_bearer(config))
    if isinstance(answer, Verdict):
        return answer
    return http_verdict(answer, credential=f"{prefix}__API_KEY", target=fix)


async def check_embeddings(http: httpx.AsyncClient, config, prefix: str = "EMBEDDINGS") -> Verdict:
    """Whether the embeddings endpoint answers with vectors."""
    fix = f"{prefix}__BASE_URL and {prefix}__MODEL"
    answer = await _call(http, "POST", f"{_endpoint(config)}/embeddings", fix,
                         json={"model": config.model, "input": ["ping"]}, headers=_bearer(config))
    if isinstance(answer, Verdict):
        return answer
    return http_verdict(answer, credential=f"{prefix}__API_KEY", target=fix)


def _silence() -> bytes:
    """A quarter second of silence as a WAV file: the smallest audio a transcriber accepts."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(b"\0\0" * 4000)
    return buffer.getvalue()


async def check_transcription(http: httpx.AsyncClient, config, prefix: str = "TRANSCRIBE") -> Verdict:
    """Whether the transcription endpoint answers."""
    fix = f"{prefix}__BASE_URL and {prefix}__MODEL"
    answer = await _call(http, "POST", f"{_endpoint(config)}/audio/transcriptions", fix,
                         data={"model": config.model}, files={"file": ("ping.wav", _silence(), "audio/wav")},
                         headers=_bearer(config))
    if isinstance(answer, Verdict):
        return answer
    return http_verdict(answer, credential=f"{prefix}__API_KEY", target=fix)


async def check_chroma_server(http: httpx.AsyncClient, url: str, collection: str) -> Verdict:
    """The heartbeat, then the collection's size (an absent collection is not a fault: the
    first start fills it)."""
    base, fix = url.rstrip("/") + "/api/v2", "CHROMA_URL"
    beat = await _call(http, "GET", f"{base}/heartbeat", fix)
    if isinstance(beat, Verdict):
        return beat
    if beat.status_code != 200:
        return http_verdict(beat, credential=fix, target=f"{fix} (is it a Chroma server?)")
    collections = f"{base}/tenants/default_tenant/databases/default_database/collections"
    found = await _call(http, "GET", f"{collections}/{quote(collection, safe='')}", fix)
    if isinstance(found, Verdict):
        return found
    if found.status_code != 200:
        return Verdict(True, f"heartbeat ok; no collection '{collection}' yet (the first start fills it)")
    count = await _call(http, "GET", f"{collections}/{quote(str(_json(found).get('id')), safe='')}/count", fix)
    if isinstance(count, Verdict) or count.status_code != 200:
        return Verdict(False, f"heartbeat ok, but counting '{collection}' failed")
    return Verdict(True, f"heartbeat ok; '{collection}' holds {count.json()} chunks")


async def check_meta(http: httpx.AsyncClient, settings) -> Verdict:
    """The business number as the Cloud API shows it to this token: token and number id at once.
    The token travels in the header, not in the URL (proxies log URLs)."""
    meta = settings.meta
    url = (f"{meta.graph_url.rstrip('/')}/{quote(meta.api_version, safe='')}"
           f"/{quote(meta.phone_number_id, safe='')}")
    answer = await _call(http, "GET", url, "META__GRAPH_URL", params={"fields": "display_phone_number"},
                         headers={"authorization": f"Bearer {meta.access_token.get_secret_value()}"})
    if isinstance(answer, Verdict):
        return answer
    if answer.status_code == 400:  # Graph API: "Object with ID ... does not exist" (code 100)
        return Verdict(False, "phone number id unknown to this token (HTTP 400): check"
                              " META__PHONE_NUMBER_ID and META__ACCESS_TOKEN")
    verdict = http_verdict(answer, credential="META__ACCESS_TOKEN",
                           target="META__GRAPH_URL, META__API_VERSION and META__PHONE_NUMBER_ID")
    if not verdict.ok:
        return verdict
    # Shown as digits and punctuation only: what a provider returns is not ours to print raw.
    number = re.sub(r"[^0-9+()\- ]", "", str(_json(answer).get("display_phone_number") or ""))[:32]
    return Verdict(True, f"number {number}" if number.strip() else "ok")


async def check_twilio(http: httpx.AsyncClient, settings) -> Verdict:
    """Whether the Twilio credentials are accepted."""
    twilio = settings.twilio
    if not twilio.account_sid or twilio.auth_token is None:
        missing = "TWILIO__ACCOUNT_SID" if not twilio.account_sid else "TWILIO__AUTH_TOKEN"
        return Verdict(False, f"{missing} is unset: nothing to sign in with")
    base = (twilio.api_base_url or TWILIO_URL).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{quote(twilio.account_sid, safe='')}.json"
    answer = await _call(http, "GET", url, "TWILIO__API_BASE_URL",
                         auth=(twilio.account_sid, twilio.auth_token.get_secret_value()))
    if isinstance(answer, Verdict):
        return answer
    verdict = http_verdict(answer, credential="TWILIO__ACCOUNT_SID and TWILIO__AUTH_TOKEN",
                           target="TWILIO__ACCOUNT_SID")
    status = re.sub(r"[^a-z_]", "", str(_json(answer).get("status") or "").lower())[:20] if verdict.ok else ""
    if status and status != "active":
        return Verdict(False, f"the account is {status}")
    return verdict


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
