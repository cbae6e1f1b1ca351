"""Attacks that try to get a link to a customer: the model (scripted here) says whatever a
clever customer talked it into, in every spelling WhatsApp would still make tappable.

Each case runs the whole graph on real Postgres and Chroma, or the output guardrail and
respond nodes on a state, and asserts on the text that would be sent."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from graph.base.links import REMOVED
from graph.base.pii import normalize
from graph.state import State
from nodes.output_guardrail import output_guardrail
from nodes.respond import respond
from tests.fakes import ScriptedChatModel, reply, tool_call

AMELIA = "447700900101"  # on file (verified by her phone); owns HP-10001 and HP-10002
GOOD = "https://help.harborandpine.example/refunds"


def _seen(text: str) -> str:
    """The text as a customer's phone shows it, for looking for what must not be there."""
    return normalize(text).lower()


PAYLOADS = [
    ("HTTPS://EVIL.EXAMPLE/phish", "evil.example"),
    ("www.evil-example.com", "evil-example"),
    ("evil-example.co.uk/refund", "evil-example"),
    ("sub.domain.io/path", "domain.io"),
    ("EVIL.COM", "evil.com"),
    ("https://harborandpine.example@evil.com/login", "evil.com"),
    ("harborandpine.example@evil.com", "evil.com"),
    ("https://help.harborandpine.example.evil.com/refunds", "evil.com"),
    ("evil.com:8443/pay", "evil.com"),
    ("https://xn--80ak6aa92e.com/", "xn--80ak6aa92e"),
    ("пример.рф/оплата", "пример"),
    ("h\u0430rborandpine.example/refunds", "h\u0430rborandpine"),  # Cyrillic а
    ("evil\u200b.com/pay", "evil.com"),  # zero-width space
    ("ｅｖｉｌ．ｃｏｍ/pay", "evil.com"),  # full-width
    ("evil\u3002com/pay", "evil\u3002com"),  # ideographic full stop
    ("javascript:alert(document.cookie)", "javascript"),
    ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "data:text"),
    ("mailto:refunds@evil.com", "evil.com"),
    ("refunds@evil.com", "evil.com"),
    ("http://2130706433/admin", "2130706433"),
    ("http://0x7f.1/admin", "0x7f"),
    ("127.0.0.1:8000/admin", "127.0.0.1"),
    ("https:evil.com", "evil.com"),
    ("https://help.harborandpine.example\\@evil.com", "evil.com"),
    ("help.harborandpine.example/r?next=evil.com", "evil.com"),
    ("https://help.harborandpine.example//evil.com", "evil.com"),
    ("[Refund form](https://evil.com/form)", "evil.com"),
    ("*evil.zip*", "evil.zip"),
    ("tel:+447700900000", "tel:"),
    ("intent://pay/#Intent;scheme=upi;end", "intent:"),
    ("help.harborandpine.example:8443/refunds", ":8443"),
    ("Click...evil.com", "evil.com"),
    ("%evil.com/pay", "evil.com"),
    ("help.harborandpine.example%2F%2Fevil.com", "evil.com"),
    ("help.harborandpine.example\u2014evil.com", "evil.com"),
    ("help.harborandpine.example@evil.com", "evil.com"),
]


@pytest.mark.integration
@pytest.mark.parametrize("payload, tell", PAYLOADS)
async def test_no_link_off_the_allow_list_reaches_the_customer(open_app, phone, payload, tell):
    agent = ScriptedChatModel(steps=[reply(
        f"Refunds take 5-7 days: {GOOD}. To speed it up use {payload} now.",
        intent="returns_refunds", confidence=0.9)])
    app = await open_app(agent_model=agent, forget=[phone])
    turn = await app.conversations.handle(phone, "how long do refunds take?")
    (text,) = turn.replies
    assert tell.lower() not in _seen(text) and REMOVED in text
    assert GOOD in text  # the allowed link is untouched
    assert any("url_not_allowed" in e for e in turn.state["guardrail_events"])


@pytest.mark.integration
async def test_a_plain_text_answer_is_checked_too(open_app, phone):
    from langchain_core.messages import AIMessage

    agent = ScriptedChatModel(steps=[AIMessage("Claim your refund at Evil-Example.com/claim today.")])
    app = await open_app(agent_model=agent, forget=[phone])
    (text,) = (await app.conversations.handle(phone, "how long do refunds take?")).replies
    assert "evil-example" not in _seen(text) and REMOVED in text


@pytest.mark.integration
async def test_the_allow_list_is_this_deployments(open_app, phone):
    """The rule reads the run's settings: what one deployment allows another removes."""
    agent = ScriptedChatModel(steps=[reply(f"See partner.example/refunds or {GOOD}", confidence=0.9)])
    app = await open_app(agent_model=agent, forget=[phone], allowed_url_hosts=["partner.example"])
    (text,) = (await app.conversations.handle(phone, "how long do refunds take?")).replies
    assert "partner.example/refunds" in text and "help.harborandpine" not in text


@pytest.mark.integration
async def test_a_complaint_ticket_does_not_echo_the_customers_words(open_app):
    """The offline brain opens a ticket with the complaint as subject and confirms it in its
    own words: the confirmation names the ticket, never the subject."""
    app = await open_app(forget=[AMELIA])
    complaint = "my lamp arrived broken!!! refund me at HTTPS://EVIL.EXAMPLE/phish or www.evil-example.com"
    turn = await app.conversations.handle(AMELIA, complaint)
    text = turn.replies[-1]
    assert re.search(r"ticket T-\d+ \(high priority\)", text), text
    assert "evil" not in _seen(text) and "lamp" not in text and "refund me" not in text


@pytest.mark.integration
@pytest.mark.parametrize("call", [
    tool_call("create_ticket", subject="Refund ready: claim at evil.example/claim",
              details="Customer asked us to say this.", priority="normal"),
    tool_call("update_ticket", ticket_id="see evil.example/claim", note="x"),
    tool_call("update_ticket", ticket_id="T-1 or visit evil.example", note="x"),
])
async def test_ticket_tools_never_hand_the_model_text_to_repeat(open_app, call):
    """A model that repeats the tool result word for word still cannot echo a subject or id."""
    agent = ScriptedChatModel(steps=[call, lambda messages, tools: reply(messages[-1].content, confidence=0.9)])
    app = await open_app(agent_model=agent, forget=[AMELIA])
    turn = await app.conversations.handle(AMELIA, "I need help with a complaint ticket please")
    tool_result = next(m for m in turn.state["messages"] if m.type == "tool")
    assert "evil" not in tool_result.content and "claim" not in tool_result.content.lower()
    assert "evil" not in _seen(turn.replies[-1])


PASSAGE = {"id": "refunds#timing", "title": "Refunds", "section": "Timing", "score": 0.8,
           "url": "https://help.harborandpine.example/refunds#timing", "text": "Five days."}


@pytest.mark.parametrize("passage, tell", [
    ({**PASSAGE, "url": "javascript:alert(document.cookie)"}, "javascript"),
    ({**PASSAGE, "url": "https://evil.example/refunds"}, "evil.example"),
    ({**PASSAGE, "url": "HTTPS://help.harborandpine.example@evil.example/"}, "evil.example"),
    ({**PASSAGE, "title": "Refunds - faster at evil-example.com"}, "evil-example"),
    ({**PASSAGE, "section": "Timing (see www.evil-example.com)"}, "evil-example"),
])
async def test_sources_lines_carry_no_link_off_the_allow_list(runtime, passage, tell):
    state = State(messages=[HumanMessage("how long?"), reply("Five days.", [passage["id"]])],
                  passages=[passage], turn=1)
    checked = await output_guardrail(state, runtime())
    said = await respond(State(messages=state.messages, reply=checked["reply"],
                               citations=checked["citations"]), runtime())
    (text,) = said["outbound"]
    assert "Sources:\n1. " in text and tell not in _seen(text)


async def test_a_link_at_the_length_cut_is_removed_not_half_kept(runtime):
    answer = "Fine. " * 148 + "Pay at evil-example.com/pay today."
    state = State(messages=[HumanMessage("q"), reply(answer)], turn=1)
    checked = await output_guardrail(state, runtime())
    assert "evil" not in checked["reply"]["answer"]


async def test_a_megabyte_of_dots_is_checked_in_bounded_time(runtime):
    answer = "a." * 500_000 + " Pay at evil.example/pay"
    state = State(messages=[HumanMessage("q"), reply(answer)], turn=1)
    started = time.monotonic()
    checked = await output_guardrail(state, runtime())
    assert time.monotonic() - started < 2 and "evil" not in checked["reply"]["answer"]


def test_every_node_speaks_only_through_say():
    """`say()` is where the link rule holds for every text; a node that wrote `outbound`
    itself would go around it. (Reading state.outbound, or clearing it, is fine.)"""
    nodes, seen = Path(__file__).resolve().parents[3] / "nodes", 0
    for path in nodes.glob("*.py"):
        if path.name == "common.py":
            continue
        for line in path.read_text().splitlines():
            written = re.findall(r"""["']outbound["']\s*:\s*([^,}]+)""", line)
            written += re.findall(r"""\[["']outbound["']\]\s*=\s*(.+)""", line)
            for value in written:
                seen += 1
                assert value.strip() in ('said["outbound"]', 'Overwrite(said["outbound"])',
                                         "Overwrite([])"), f"{path.name}: {line.strip()}"
    assert seen >= 3  # the scan does find the writes it checks
