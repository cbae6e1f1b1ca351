"""The Switchboard support graph, wired top to bottom.

input_guardrail -> router -> [authenticate] -> retrieve -> agent <-> tools
    -> output_guardrail -> respond, with handoff -> await_human wherever a human is needed.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Checkpointer

from graph import routes
from graph.context import Context
from graph.state import InputState, State
from nodes.agent import agent
from nodes.authenticate import authenticate
from nodes.await_human import await_human
from nodes.csat_thanks import csat_thanks
from nodes.handoff import handoff
from nodes.input_guardrail import input_guardrail
from nodes.output_guardrail import output_guardrail
from nodes.respond import respond
from nodes.retrieve import retrieve
from nodes.router import router
from nodes.tool_audit import audited_tool_call
from tools import TOOLS

builder = StateGraph(State, input_schema=InputState, context_schema=Context)

builder.add_node(input_guardrail)
builder.add_node(router)
builder.add_node(authenticate)
builder.add_node(retrieve)
builder.add_node(agent)
builder.add_node("tools", ToolNode(TOOLS, awrap_tool_call=audited_tool_call))  # audited
builder.add_node(output_guardrail)
builder.add_node(handoff)
builder.add_node(await_human)
builder.add_node(respond)
builder.add_node(csat_thanks)

# Every turn starts by redacting and checking what the customer sent.
builder.add_edge(START, "input_guardrail")
# Silent while a human owns the conversation or the customer is rate-limited; a CSAT rating
# (stored by the server) is only thanked.
builder.add_conditional_edges("input_guardrail", routes.after_input_guardrail)
# Small talk is answered canned; "human" goes straight to handoff; account questions verify first.
builder.add_conditional_edges("router", routes.after_router)
# Verified customers go on to an answer; the rest get the verification prompt.
builder.add_conditional_edges("authenticate", routes.after_authenticate)
# Passages are fetched before the agent so it can cite them.
builder.add_edge("retrieve", "agent")
# The agent loops through tools until it replies, or hands off at the iteration cap.
builder.add_conditional_edges("agent", routes.after_agent)
builder.add_edge("tools", "agent")
# A checked reply is sent; an unusable one, or a second unsure one in a row, brings in a human.
builder.add_conditional_edges("output_guardrail", routes.after_output_guardrail)
# The customer is told a human is coming, then the run pauses until one hands back.
builder.add_edge("handoff", "await_human")
builder.add_edge("await_human", END)
builder.add_edge("respond", END)
builder.add_edge("csat_thanks", END)


def make_graph(
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[State, Context, InputState, State]:
    """The compiled graph on a checkpointer (the server's Postgres saver, or Studio's own)."""
    return builder.compile(checkpointer=checkpointer, name="Switchboard")


graph = make_graph()
