"""Tool-tier helpers: each tool called as ToolNode calls it, with a ToolRuntime built by hand
on a plain State and the in-memory shop and knowledge base."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.prebuilt import ToolRuntime

from graph.base.conversation import ConversationId
from graph.context import Context
from graph.state import State
from tests.unit.in_memory import InMemoryKnowledge, InMemoryShop, offline_services

VERIFIED = {"status": "verified", "method": "phone_on_file", "attempts": 0, "locked_until": None}
AMELIA = {"id": "C-1", "name": "Amelia Hart", "phone": "447700900101",
          "email": "amelia@example.com", "tier": "retail"}


@pytest.fixture
def shop() -> InMemoryShop:
    return InMemoryShop()


@pytest.fixture
def knowledge() -> InMemoryKnowledge:
    return InMemoryKnowledge()


@pytest.fixture
def tool_runtime(shop, knowledge):
    """Factory: the ToolRuntime of one tool call. `customer` is verified unless told otherwise."""
    def make(customer: dict | None = AMELIA, verification: dict | None = None,
             tool_call_id: str = "call_1", turn_key: str | None = None,
             messages: list | None = None) -> ToolRuntime:
        state = State(messages=messages or [HumanMessage("hi")], customer=customer,
                      verification=verification or (VERIFIED if customer else State().verification))
        context = Context(conversation_id=ConversationId("447700900101"), phone="447700900101",
                          turn_key=turn_key,
                          services=offline_services(shop, knowledge))
        return ToolRuntime(state=state, context=context, config={}, stream_writer=lambda _: None,
                           tool_call_id=tool_call_id, store=None)
    return make


def calls_to(name: str, *ids: str) -> AIMessage:
    """The agent's message asking for `name` once per id."""
    return AIMessage("", tool_calls=[{"name": name, "args": {}, "id": i, "type": "tool_call"}
                                     for i in ids])
