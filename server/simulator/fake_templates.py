"""The fake Cloud API's message templates: GET /{version}/{waba_id}/message_templates, paged
with Meta's cursors, and the check Meta makes of a template send.

An empty list checks nothing (the fake takes any template, as before it knew templates); once
templates are added, a send of one it does not have in that language is refused with Meta's
132001, and one with the wrong number of body parameters with 132000, as Meta does.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

ErrorBody = Callable[..., dict[str, Any]]


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _index(cursor: str | None) -> int:
    try:
        return int(base64.urlsafe_b64decode((cursor or "").encode()).decode() or 0)
    except ValueError:
        return -1


class FakeTemplates:
    """The templates of the fake WhatsApp Business Account and what was asked of them."""

    def __init__(self, waba_id: str, access_token: str | None, meta_error: ErrorBody):
        self.waba_id, self.access_token, self.meta_error = waba_id, access_token, meta_error
        self.templates: list[dict[str, Any]] = []
        """Meta's shape: name, language, status, category, components, parameter_format."""
        self.requests: list[dict[str, Any]] = []
        """Each list request's query parameters (limit, after, fields)."""
        self.failures: list[tuple[int, int]] = []
        """(HTTP status, Meta code) for the next list requests, one each."""

    def add(self, name: str, language: str, body: str, *, status: str = "APPROVED",
            category: str = "UTILITY", parameter_format: str = "NAMED",
            header: str | None = None) -> None:
        """A template as Meta lists it; `body` (and `header`) with {{placeholders}}."""
        components = ([{"type": "HEADER", "format": "TEXT", "text": header}] if header else [])
        components.append({"type": "BODY", "text": body})
        self.templates.append({"name": name, "language": language, "status": status,
                               "category": category, "parameter_format": parameter_format,
                               "components": components, "id": str(10**15 + len(self.templates))})

    def fail_next(self, http_status: int, code: int) -> None:
        self.failures.append((http_status, code))

    def mount(self, app: FastAPI) -> None:
        app.add_api_route("/{version}/{waba_id}/message_templates", self._list, methods=["GET"])

    async def _list(self, version: str, waba_id: str, request: Request) -> Response:
        if self.access_token and request.headers.get("authorization") != f"Bearer {self.access_token}":
            return JSONResponse({"error": self.meta_error(190)}, 401)
        query = dict(request.query_params)
        self.requests.append(query)
        if self.failures:
            status, code = self.failures.pop(0)
            return JSONResponse({"error": self.meta_error(code)}, status)
        if waba_id != self.waba_id:
            return JSONResponse({"error": self.meta_error(100, f"Unknown WhatsApp Business Account {waba_id}")}, 400)
        start, limit = _index(query.get("after")), int(query.get("limit") or 25)
        if start < 0 or not 1 <= limit <= 1000:
            return JSONResponse({"error": self.meta_error(100, "Invalid parameter")}, 400)
        fields = [f for f in (query.get("fields") or "name,status,id").split(",") if f]
        page = [{k: t[k] for k in (*fields, "id") if k in t} for t in self.templates[start:start + limit]]
        end = start + len(page)
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end < len(self.templates):
            paging["next"] = str(request.url.include_query_params(after=_cursor(end)))
        return JSONResponse({"data": page, "paging": paging})

    def refusal(self, template: dict[str, Any]) -> tuple[int, str] | None:
        """What Meta would refuse in a template send (code, detail), else None."""
        if not self.templates:
            return None
        name, language = template.get("name"), (template.get("language") or {}).get("code")
        known = next((t for t in self.templates if (t["name"], t["language"]) == (name, language)), None)
        if known is None or known["status"] != "APPROVED":
            return 132001, f"template name ({name}) does not exist in {language}"
        body = next((c["text"] for c in known["components"] if c["type"] == "BODY"), "")
        wanted = body.count("{{")
        given = sum(len(c.get("parameters") or ()) for c in template.get("components") or ()
                    if str(c.get("type", "")).lower() == "body")
        if wanted != given:
            return 132000, f"number of parameters ({given}) does not match the expected number ({wanted})"
        return None
