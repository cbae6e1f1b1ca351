"""The fake Cloud API's media endpoints, as Meta serves them (mounted by fake_cloud_api.py):

- GET /{version}/{media_id} (Bearer) answers {messaging_product, url, mime_type, sha256,
  file_size, id}; the url is this fake's own download address.
- GET /media-download/{media_id} (Bearer) answers the file's bytes.

`add` stores a file and returns its media id; `fail_next` makes the next downloads fail (a
provider hiccup, to see retries); `requests` records each call with whether it was authorised.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections import deque
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


class FakeMedia:
    """The fake Cloud API's media endpoints: files stored in memory, served with the token."""

    def __init__(self, access_token: str | None, error: Any):
        self.access_token, self._error = access_token, error
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[dict[str, Any]] = []
        self._failures: deque[int] = deque()
        self._lock = threading.Lock()

    def add(self, data: bytes, mime_type: str) -> str:
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.files[media_id] = (data, mime_type)
        return media_id

    def fail_next(self, times: int = 1, http_status: int = 500) -> None:
        with self._lock:
            self._failures.extend([http_status] * times)

    def mount(self, app: FastAPI) -> None:
        # The download route first: "/media-download/x" would also match "/{version}/{media_id}".
        app.add_api_route("/media-download/{media_id}", self._download, methods=["GET"],
                          name="media_download")
        app.add_api_route("/{version}/{media_id}", self._metadata, methods=["GET"])

    def _refusal(self, request: Request, kind: str, media_id: str) -> Response | None:
        authorised = not self.access_token or \
            request.headers.get("authorization") == f"Bearer {self.access_token}"
        self.requests.append({"kind": kind, "media_id": media_id, "authorised": authorised})
        if not authorised:
            error = {**self._error(190), "message": "Invalid OAuth access token"}
            return JSONResponse({"error": error}, status_code=401)
        if media_id not in self.files:
            return JSONResponse({"error": self._error(100, f"Unknown media id {media_id}")}, 404)
        return None

    async def _metadata(self, version: str, media_id: str, request: Request) -> Response:
        if refused := self._refusal(request, "metadata", media_id):
            return refused
        data, mime_type = self.files[media_id]
        return JSONResponse({
            "messaging_product": "whatsapp", "id": media_id, "mime_type": mime_type,
            "url": str(request.url_for("media_download", media_id=media_id)) + "?ext=1&hash=x",
            "sha256": hashlib.sha256(data).hexdigest(), "file_size": str(len(data))})

    async def _download(self, media_id: str, request: Request) -> Response:
        if refused := self._refusal(request, "download", media_id):
            return refused
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure:
            return Response("temporarily unavailable", status_code=failure)
        data, mime_type = self.files[media_id]
        return Response(data, media_type=mime_type)


def media_message(kind: str, media_id: str, data: bytes, mime_type: str, *,
                  caption: str | None = None, filename: str | None = None,
                  voice: bool = False) -> dict[str, Any]:
    """A webhook message's media object, as Meta sends it (no URL: it is asked for by id)."""
    body: dict[str, Any] = {"id": media_id, "mime_type": mime_type,
                            "sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
    if caption:
        body["caption"] = caption
    if filename:
        body["filename"] = filename
    if voice:
        body["voice"] = True
    return {"type": kind, kind: body}
