"""An OpenAI-compatible speech-to-text endpoint over real HTTP: POST /v1/audio/transcriptions
(multipart: file, model) answers {"text": ...} after `delay_s`, for the API key it was given.
It records each call (model, file name and bytes, whether the key matched)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.http_stub import HttpStub


class TranscribeStub(HttpStub):
    base_path = "/v1"

    def __init__(self, text: str, *, api_key: str = "stub-key", delay_s: float = 0.0,
                 status: int = 200):
        super().__init__()
        self.text, self.api_key, self.delay_s, self.status = text, api_key, delay_s, status
        self.calls: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route(f"{self.base_path}/audio/transcriptions", self._transcribe,
                                           methods=["POST"])])

    async def _transcribe(self, request: Request) -> JSONResponse:
        form = await request.form()
        upload = form.get("file")
        call = {"model": form.get("model"), "authorised":
                request.headers.get("authorization") == f"Bearer {self.api_key}",
                "filename": getattr(upload, "filename", None),
                "data": await upload.read() if upload is not None and hasattr(upload, "read") else None}
        self.calls.append(call)
        await asyncio.sleep(self.delay_s)
        if not call["authorised"]:
            return JSONResponse({"error": {"message": "Incorrect API key"}}, 401)
        if self.status != 200:
            return JSONResponse({"error": {"message": "unavailable"}}, self.status)
        return JSONResponse({"text": self.text})
