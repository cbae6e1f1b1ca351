"""Our side of Meta's webhooks, as a small app that tests serve with `serve_in_thread`."""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response

from server.simulator import sign_body

APP_SECRET, TOKEN, PHONE_ID = "test-app-secret", "test-access-token", "100000000000777"


class Receiver:
    """Our side of Meta's webhooks: checks each signature and keeps the payloads, the client
    address (host, port: one per connection) and time of each POST. `refuse` answers 503 to
    the payloads it is true of, as a server that is down."""

    def __init__(self):
        self.payloads: list[dict] = []
        self.posts: list[tuple[tuple[str, int], float, dict]] = []
        self.rejected = 0
        self.refuse: Callable[[dict], bool] = lambda payload: False
        self.lock = threading.Lock()
        self.app = FastAPI()
        self.app.add_api_route("/webhooks/meta", self.receive, methods=["POST"])

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if not hmac.compare_digest(sign_body(body, APP_SECRET),
                                   request.headers.get("x-hub-signature-256", "")):
            self.rejected += 1
            return Response(status_code=401)
        payload = json.loads(body)
        with self.lock:
            self.posts.append(((request.client.host, request.client.port), time.monotonic(), payload))
            if self.refuse(payload):
                return Response(status_code=503)
            self.payloads.append(payload)
        return Response(status_code=200)

    def statuses(self, message_id: str) -> list[dict]:
        """Status updates for one message, as the channel parser hands them to apply_status."""
        with self.lock:
            payloads = list(self.payloads)
        return [{"provider_message_id": s["id"], "status": s["status"], "errors": s.get("errors"),
                 "at": s["timestamp"]}
                for p in payloads for e in p["entry"] for c in e["changes"]
                for s in c["value"].get("statuses", []) if s["id"] == message_id]
