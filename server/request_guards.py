"""Malformed input is refused where it enters, with a short 4xx, before it can become a 500.

Postgres stores no NUL in text or jsonb, and a lone UTF-16 surrogate (U+D800-U+DFFF, which JSON
can spell as "\\ud800") cannot even be encoded as UTF-8: either one, reaching a query, fails the
request with a 500, possibly halfway through an action. So:

- `RequestGuard` (ASGI middleware, every request, mounted apps included): NUL or a surrogate in
  the path or query, NUL in a header → 400; more than MAX_HEADER_BYTES of headers → 431; a body
  over the configured size (max_body_bytes, the webhooks' limit too) → 413.
- `refuse_unstorable_body` (a dependency of every FastAPI route): a form field or a JSON string
  of that kind (the console's forms, the simulator's API) → 400.
- `load_json`: strict JSON for signed webhooks (UTF-8, no NaN or Infinity, no repeated keys, at
  most MAX_JSON_DEPTH deep) or `BadJson`, which the webhook route answers with 400.
- `storable`: text inside a *signed* provider webhook is repaired, not refused (NUL and lone
  surrogates become U+FFFD): refusing it would lose a customer's message, retried until dropped.
- The last resort, for a path someone forgot to check: psycopg refusing NUL or a surrogate that
  cannot be encoded becomes 400 and a warning naming the route. Other database errors stay 500s:
  they are our bugs, and a 4xx would hide them.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_HEADER_BYTES = 32 * 1024
MAX_JSON_DEPTH = 64
"""Meta's payloads nest about 10 deep; anything far deeper is not a webhook."""
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
UNSTORABLE_SQLSTATES = frozenset({"22021", "22P05"})  # character_not_in_repertoire, untranslatable


class BadJson(ValueError):
    """A body that is not the strict JSON a webhook must be; the message says why."""


def is_storable(text: str) -> bool:
    """Whether text can be stored as is: no NUL or lone surrogate, which Postgres refuses."""
    return UNSTORABLE.search(text) is None


def storable(value: Any) -> Any:
    """`value` with NUL and lone surrogates replaced by U+FFFD in every string, keys included."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def has_unstorable(value: Any) -> bool:
    """Whether any string in a parsed JSON value (keys too) holds NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# --- Strict JSON for webhooks ---------------------------------------------------------------

def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BadJson("body repeats a key in one object")
    return result


def _constant(name: str) -> Any:
    raise BadJson(f"body uses {name}, which is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BadJson(f"body has a number out of range ({text[:20]})")
    return number


def depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (
                item.values() if isinstance(item, dict) else item))
    return deepest


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`body` parsed as strict JSON, or BadJson saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant,
                           parse_float=_finite)
    except BadJson:
        raise
    except RecursionError as error:
        raise BadJson(f"body nests deeper than {max_depth} levels") from error
    except UnicodeDecodeError as error:
        raise BadJson("body is not UTF-8") from error
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise BadJson("body is not JSON") from error
    # Only a body with more brackets than the limit can be too deep: most skip the walk.
    if body.count(b"{") + body.count(b"[") > max_depth and depth(value) > max_depth:
        raise BadJson(f"body nests deeper than {max_depth} levels")
    return value


# --- Our own endpoints ----------------------------------------------------------------------

class RequestGuard:
    """Refuses a request whose path, query, headers or body size could not be handled safely."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 3 * 1024 * 1024):
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if problem := request_problem(scope, self.max_body_bytes):
            status, reason = problem
            await JSONResponse({"detail": reason}, status)(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive: Receive) -> Receive:
        """`receive` that stops a body sent without Content-Length (chunked) at the limit: the
        route reading it gets a 413 instead of filling memory."""
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413, "body too large")  # FastAPI's: its body parsing re-raises it
            return message
        return limited


def request_problem(scope: Scope, max_body_bytes: int) -> tuple[int, str] | None:
    """(status, reason) for a request to refuse before routing, else None."""
    size = 0
    for name, value in scope["headers"]:
        size += len(name) + len(value)
        if b"\x00" in value:
            return 400, "a header contains a NUL byte"
        if name == b"content-length" and value.isdigit() and (
                len(value) > 18 or int(value) > max_body_bytes):
            return 413, "body too large"
    if size > MAX_HEADER_BYTES:
        return 431, "request headers too large"
    if not is_storable(scope["path"]):
        return 400, "the URL path contains a NUL or an invalid character"
    query = scope.get("query_string", b"")
    # Starlette decodes the query as UTF-8 with replacement: NUL is all that can get through.
    if b"%00" in query or b"\x00" in query:
        return 400, "the query string contains a NUL character"
    return None


async def refuse_unstorable_body(request: Request) -> None:
    """Every form field and JSON string of a FastAPI route's body must be storable text."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        form = await request.form()  # parsed once: the route reads the cached form
        for name, value in form.multi_items():
            if not is_storable(name) or (isinstance(value, str) and not is_storable(value)):
                field = storable(name)[:40]
                raise HTTPException(400, f"form field {field!r} contains a NUL or an invalid character")
    elif (media_type == "application/json" or media_type.endswith("+json")) and await request.body():
        try:
            value = await request.json()
        except (ValueError, RecursionError) as error:
            raise HTTPException(400, "body is not JSON") from error
        if has_unstorable(value):
            raise HTTPException(400, "a JSON string contains a NUL or an invalid character")


def clean_text(value: str) -> str:
    """A pydantic AfterValidator for fields that must be storable text."""
    if not is_storable(value):
        raise ValueError("contains a NUL or an invalid character")
    return value


async def _unstorable_text(request: Request, error: Exception) -> JSONResponse:
    if not _is_unstorable_text(error):
        raise error  # a genuine bug: the server's error middleware makes it a logged 500
    log.warning("%s %s: unstorable text reached the database unchecked (%s); refused with 400,"
                " but the route should check it at the boundary", request.method,
                request.url.path, type(error).__name__)
    return JSONResponse({"detail": "request contains a NUL or an invalid character"}, 400)


def _is_unstorable_text(error: Exception) -> bool:
    if isinstance(error, UnicodeEncodeError):
        return "surrogates not allowed" in str(error.reason)
    if isinstance(error, psycopg.DataError):
        return getattr(error, "sqlstate", None) in UNSTORABLE_SQLSTATES or "NUL (0x00)" in str(error)
    return False


def install(app: FastAPI, max_body_bytes: int) -> None:
    """Wire the guards into the app; call before including routers (the body check is a
    dependency that routes take when they are added)."""
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)
    app.router.dependencies.append(Depends(refuse_unstorable_body))
    app.add_exception_handler(psycopg.DataError, _unstorable_text)
    app.add_exception_handler(UnicodeEncodeError, _unstorable_text)
