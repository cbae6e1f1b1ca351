"""One real HTTP server standing in for the providers `switchboard doctor` calls: an
OpenAI-compatible endpoint (/v1), the Graph API (/graph) and Twilio's REST API (/twilio).

Each accepts exactly one credential and answers a wrong one as the real service does (401, with
an error body that quotes part of what it was given, as OpenAI's does), and records every
request, so a test can see what was sent and where."""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.conftest import free_port


@dataclass
class Providers:
    model_key: str = "sk-good-model-key"
    meta_token: str = "good-meta-access-token"
    phone_number_id: str = "106540352242922"
    twilio_sid: str = "AC" + "0" * 32
    twilio_token: str = "good-twilio-auth-token"
    requests: list[dict] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, method: str, path: str, query: str, headers: dict, body: bytes) -> tuple[int, dict]:
        self.requests.append({"method": method, "path": path, "query": query, "headers": headers,
                              "body": body})
        auth = headers.get("authorization", "")
        if path.startswith("/v1/"):
            if auth != f"Bearer {self.model_key}":
                given = auth.removeprefix("Bearer ")
                return 401, {"error": {"message": f"Incorrect API key provided: {given[:6]}***",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}}
            if path == "/v1/chat/completions":
                return 200, {"id": "c1", "object": "chat.completion", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "p"}, "finish_reason": "length"}]}
            if path == "/v1/embeddings":
                return 200, {"object": "list", "data": [{"index": 0, "embedding": [0.1, 0.2]}]}
            if path == "/v1/audio/transcriptions":
                return 200, {"text": ""}
            return 404, {"error": {"message": "Unknown path"}}
        if match := re.fullmatch(r"/graph/v[\d.]+/(\w+)", path):
            if auth != f"Bearer {self.meta_token}":
                return 401, {"error": {"message": "Invalid OAuth access token - Cannot parse access"
                                                  f" token {auth[7:15]}", "code": 190}}
            if match.group(1) != self.phone_number_id:
                return 400, {"error": {"message": f"Object with ID '{match.group(1)}' does not exist",
                                       "code": 100}}
            return 200, {"display_phone_number": "+1 555-010-0000", "id": self.phone_number_id}
        if match := re.fullmatch(r"/twilio/2010-04-01/Accounts/(\w+)\.json", path):
            expected = base64.b64encode(f"{self.twilio_sid}:{self.twilio_token}".encode()).decode()
            if auth != f"Basic {expected}" or match.group(1) != self.twilio_sid:
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}
            return 200, {"sid": self.twilio_sid, "status": "active"}
        return 404, {"error": "no such path"}

    def seen(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]


def start(providers: Providers) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = providers.answer(self.command, parts.path, parts.query, headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle  # noqa: N815 - http.server's naming

        def log_message(self, *args) -> None:
            pass

    providers.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", providers.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fields_of(request: dict) -> dict:
    return parse_qs(request["query"])
