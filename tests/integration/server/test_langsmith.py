"""LangSmith tracing still works beside Switchboard's own observer: with LANGSMITH_TRACING and
LANGSMITH_API_KEY set, a graph run given the observer in its callbacks (as
server/conversations.py gives it) posts its runs to LANGSMITH_ENDPOINT, here a stub served
for real. The run happens in a child process: LangSmith reads its variables once per process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.http_stub import HttpStub

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
RUN = """
import asyncio
from typing import TypedDict
from langchain_core.tracers.langchain import wait_for_all_tracers
from langgraph.graph import END, START, StateGraph
from server import conversation_ids
from server.graph_observer import TurnObserver

conversation_ids._pads = conversation_ids.hmac_pads(b"l" * 32)

class S(TypedDict, total=False):
    n: int

async def step(state: S) -> S:
    return {"n": 1}

builder = StateGraph(S)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_edge("step", END)
graph = builder.compile()
asyncio.run(graph.ainvoke({}, {"callbacks": [TurnObserver("447700900888")]}))
wait_for_all_tracers()
"""


class FakeLangSmith(HttpStub):
    """LangSmith's API as its client uses it: info, and run ingestion (batch or multipart)."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[str, bytes]] = []

        async def info(request: Request) -> JSONResponse:
            return JSONResponse({"version": "0.0.0", "batch_ingest_config": {}})

        async def ingest(request: Request) -> JSONResponse:
            self.posts.append((request.url.path, await request.body()))
            return JSONResponse({})

        self.app = Starlette(routes=[
            Route("/info", info), Route("/runs/batch", ingest, methods=["POST"]),
            Route("/runs/multipart", ingest, methods=["POST"]),
            Route("/runs", ingest, methods=["POST"])])


def test_a_run_observed_by_switchboard_is_posted_to_langsmith():
    with FakeLangSmith() as langsmith:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LANGSMITH_TRACING": "true",
               "LANGSMITH_API_KEY": "lsv2-test-key", "LANGSMITH_ENDPOINT": langsmith.url,
               "LANGSMITH_PROJECT": "switchboard-test"}
        subprocess.run([sys.executable, "-c", RUN], env=env, cwd=ROOT, check=True, timeout=60)
    assert langsmith.posts, "LangSmith's tracer posted nothing"
    assert any(b"LangGraph" in body for _, body in langsmith.posts)
