"""What one graph run shows the operator: spans for the graph, each node, each model and tool
call, and the model and tool metrics (server/metrics.py).

The graph side may not import the server, so it is observed from outside: `TurnObserver` is a
LangChain callback handler that server/conversations.py passes in the run's config. LangGraph
reports every node as a chain run and LangChain every chat model and tool call; each becomes a
child span of the run it belongs to. Other runs (LangGraph's channel writes, routing
functions, the fallback wrapper) get no span of their own: their children hang on the nearest
one that has. Spans carry the conversation's opaque ref, run names and model names, never
message text. LangSmith's tracer, when its variables are set, is added by LangChain beside
this handler; a config with callbacks does not turn it off.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.errors import GraphBubbleUp
from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.trace import Span, Status, StatusCode

from nodes.brain import OfflineBrain
from server import tracing
from server.conversation_ids import ref
from server.metrics import MODEL_CALL_SECONDS, MODEL_CALLS, TOOL_CALLS, label

_HIDDEN = "langsmith:hidden"
"""LangGraph's tag on its own bookkeeping runs (channel writes, branch functions)."""


class TurnObserver(BaseCallbackHandler):
    """One graph run's spans and metrics. Built per run (it holds the run's open spans)."""

    run_inline = True  # called in the run's own task: no thread hop per event
    raise_error = False

    def __init__(self, conversation: str | None, *, offline_only: bool = False):
        self.tracing = tracing.is_on()  # off: metrics only, no span bookkeeping
        self.conversation_ref = ref(conversation) if conversation and self.tracing else None
        self.offline_only = offline_only
        """No model is configured: every turn is the offline brain's."""
        self.parent: Context = get_current()  # the turn span's, as the run is built in it
        self._spans: dict[UUID, Span] = {}
        self._tools: dict[UUID, str] = {}
        self._contexts: dict[UUID, Context] = {}
        self._started: dict[UUID, float] = {}
        self._offline: set[UUID] = set()
        self._model_parents: dict[UUID, UUID | None] = {}
        """Model calls not ended yet, with the run that made each."""
        self._root: UUID | None = None
        self.offline_answers = 0
        """Chat model runs of this run that the offline brain answered."""
        self.model_answers = 0
        """Chat model runs a configured model answered."""

    # --- spans --------------------------------------------------------------------------------

    def _context_of(self, parent_run_id: UUID | None) -> Context:
        if parent_run_id is not None and parent_run_id in self._contexts:
            return self._contexts[parent_run_id]
        return self.parent

    def _open(self, run_id: UUID, parent_run_id: UUID | None, name: str,
              **attributes: Any) -> None:
        if not self.tracing:
            return
        span = tracing.tracer().start_span(name, context=self._context_of(parent_run_id))
        if span.is_recording():
            if self.conversation_ref:
                span.set_attribute(tracing.CONVERSATION, self.conversation_ref)
            span.set_attributes(attributes)
        self._spans[run_id] = span
        self._contexts[run_id] = trace.set_span_in_context(span, self._context_of(parent_run_id))

    def _close(self, run_id: UUID, error: BaseException | None = None) -> None:
        self._contexts.pop(run_id, None)
        span = self._spans.pop(run_id, None)
        if span is None:
            return
        if error is not None:  # the class only: an error's message may quote the customer
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    def _pass_through(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        if self.tracing:
            self._contexts[run_id] = self._context_of(parent_run_id)

    # --- graph and nodes ----------------------------------------------------------------------

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        node = (metadata or {}).get("langgraph_node")
        name = kwargs.get("name")
        if parent_run_id is None:
            self._root = run_id
            self._open(run_id, None, "graph")
        elif node and name == node and _HIDDEN not in (tags or ()):
            self._open(run_id, parent_run_id, f"node {node}", **{"langgraph.node": str(node)})
        else:
            self._pass_through(run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._cancelled_calls(run_id)
        self._close(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._cancelled_calls(run_id)
        # LangGraph's interrupt (a handoff waiting for a human) ends its node this way too.
        self._close(run_id, None if isinstance(error, GraphBubbleUp) else error)

    # --- model calls --------------------------------------------------------------------------

    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: Any, *,
                            run_id: UUID, parent_run_id: UUID | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        offline = OfflineBrain.__name__ in ((serialized or {}).get("id") or ())
        model = (metadata or {}).get("ls_model_name") or ("offline" if offline else "unknown")
        if offline:
            self._offline.add(run_id)
        self._started[run_id] = time.perf_counter()
        self._model_parents[run_id] = parent_run_id
        self._open(run_id, parent_run_id, "model", **{
            "gen_ai.request.model": str(model), "switchboard.brain": "offline" if offline else "model"})

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._model_done(run_id, "ok")
        self._close(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        timed_out = isinstance(error, (TimeoutError, asyncio.CancelledError))
        self._model_done(run_id, "timeout" if timed_out else "error")
        self._close(run_id, error)

    def _cancelled_calls(self, ended: UUID) -> None:
        """Model calls under a run that ended without ending themselves: LangChain reports no
        error for a call cancelled from outside (our timeout, the turn's deadline, an opening
        breaker), so they are timeouts, found when their caller ends (no duration: unknown)."""
        for run_id in [r for r, parent in self._model_parents.items()
                       if parent == ended or self._root == ended]:
            self._started.pop(run_id, None)
            self._model_done(run_id, "timeout")
            self._close(run_id, asyncio.CancelledError())

    def _model_done(self, run_id: UUID, outcome: str) -> None:
        self._model_parents.pop(run_id, None)
        started = self._started.pop(run_id, None)
        if run_id in self._offline:
            self._offline.discard(run_id)
            self.offline_answers += outcome == "ok"
            return
        MODEL_CALLS.labels(outcome=outcome).inc()
        self.model_answers += outcome == "ok"
        if started is not None:
            MODEL_CALL_SECONDS.observe(time.perf_counter() - started)

    # --- tools --------------------------------------------------------------------------------

    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        tool = self._tools[run_id] = label(kwargs.get("name") or (serialized or {}).get("name"))
        self._open(run_id, parent_run_id, f"tool {tool}", **{"gen_ai.tool.name": tool})

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._tool_done(run_id, "ok")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._tool_done(run_id, "error", error)

    def _tool_done(self, run_id: UUID, outcome: str, error: BaseException | None = None) -> None:
        TOOL_CALLS.labels(tool=self._tools.pop(run_id, "other"), outcome=outcome).inc()
        self._close(run_id, error)

    @property
    def brain(self) -> str:
        """The turn's brain for switchboard_turn_seconds: offline when the offline brain
        answered any model call of it (or no model is configured)."""
        return "offline" if self.offline_answers or self.offline_only else "model"
