"""returns_policy: knowledge-base passages the reply may cite, open to anyone."""

from __future__ import annotations

from langchain_core.messages import ToolMessage
from langgraph.types import Command

from tests.unit.in_memory import InMemoryKnowledge
from tools.policy import returns_policy


async def test_policy_passages_join_the_turn_and_are_cited_by_id(tool_runtime, knowledge):
    result = await returns_policy("how long to return a sofa", runtime=tool_runtime(customer=None))
    assert isinstance(result, Command)
    [message] = result.update["messages"]
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call_1"
    assert message.text == ("[returns-1] Returns / Time limits: You have 30 days from delivery to"
                            " return an item for a full refund.")
    assert [p["id"] for p in result.update["passages"]] == ["returns-1"]
    assert knowledge.queries == ["returns refunds how long to return a sofa"]


async def test_no_passage_found_is_said_plainly(tool_runtime, knowledge):
    knowledge.passages = []
    result = await returns_policy("warranty on a kettle", runtime=tool_runtime())
    assert result.update["passages"] == []
    assert result.update["messages"][0].text == "No policy passage found."


async def test_at_most_three_passages(tool_runtime, knowledge):
    knowledge.passages = [{**InMemoryKnowledge().passages[0], "id": f"returns-{i}"}
                          for i in range(6)]
    result = await returns_policy("return", runtime=tool_runtime())
    assert len(result.update["passages"]) == 3
