"""An OpenAI-compatible model served over real HTTP, with the latency of a real one.

It answers `POST /v1/chat/completions` with tool calls, as the router and the agent ask for
them: the decisions are the offline brain's (so answers are right and cite real passages), the
wire format is OpenAI's, and every answer waits `delay_s` (plus up to `jitter_s`) first. With
`hang=True` it accepts requests and never answers, like a provider that stalls.

In a test: `with ModelStub(delay_s=1.0) as stub: ... stub.url ... stub.peak_in_flight`.
As its own process (benchmarks): `python -m tests.model_stub --port 8600 --delay 1.5`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nodes.brain import OfflineBrain
from tests.http_stub import HttpStub


def to_messages(wire: list[dict[str, Any]]) -> list[BaseMessage]:
    """OpenAI chat messages as LangChain messages (what the brain reads)."""
    messages: list[BaseMessage] = []
    for m in wire:
        content = m.get("content") or ""
        if isinstance(content, list):  # content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if m["role"] == "system":
            messages.append(SystemMessage(content))
        elif m["role"] == "user":
            messages.append(HumanMessage(content))
        elif m["role"] == "tool":
            messages.append(ToolMessage(content, tool_call_id=m.get("tool_call_id", "")))
        else:
            calls = [{"name": c["function"]["name"], "args": json.loads(c["function"]["arguments"] or "{}"),
                      "id": c["id"], "type": "tool_call"} for c in m.get("tool_calls") or []]
            messages.append(AIMessage(content, tool_calls=calls))
    return messages


def completion(message: AIMessage, model: str) -> dict[str, Any]:
    """An OpenAI chat completion carrying the message's tool calls."""
    calls = [{"id": c["id"], "type": "function",
              "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
             for c in message.tool_calls]
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                         "message": {"role": "assistant", "content": message.text or None,
                                     "tool_calls": calls or None}}],
            "usage": {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240}}


class ModelStub(HttpStub):
    base_path = "/v1"

    def __init__(self, delay_s: float = 1.0, jitter_s: float = 0.0, *, hang: bool = False):
        super().__init__()
        self.delay_s, self.jitter_s, self.hang = delay_s, jitter_s, hang
        self.calls = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._brain = OfflineBrain()
        self.app = Starlette(routes=[Route(f"{self.base_path}/chat/completions", self._complete,
                                           methods=["POST"])])

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.calls += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.hang:
                await asyncio.Event().wait()  # never answers; the client gives up
            await asyncio.sleep(self.delay_s + random.uniform(0, self.jitter_s))
            result = self._brain._generate(to_messages(body["messages"]), tools=body.get("tools", []))
            return JSONResponse(completion(result.generations[0].message, body.get("model", "stub")))
        finally:
            self.in_flight -= 1


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--delay", type=float, default=1.5, help="seconds before each answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many seconds more")
    parser.add_argument("--hang", action="store_true", help="never answer")
    args = parser.parse_args()
    stub = ModelStub(args.delay, args.jitter, hang=args.hang)
    # Idle connections kept a minute, as a provider's edge does.
    uvicorn.run(stub.app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=60)


if __name__ == "__main__":
    main()
