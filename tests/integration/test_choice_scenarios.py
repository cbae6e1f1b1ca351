"""Choices with replies, whole graph on real PostgreSQL and Chroma with the offline brain: the
"which order?" question offers the orders, the clarifying question offers a person, and a
tap (its title, as the webhook parsers hand it on) is understood (issue 13, points 2 and 6)."""

from __future__ import annotations

import pytest

from nodes import prompts
from nodes.prompts_i18n import localized

pytestmark = pytest.mark.integration

AMELIA = "447700900101"  # on file; owns HP-10001 and HP-10002


async def test_the_which_order_question_offers_the_orders_and_a_tap_answers_it(open_app):
    app = await open_app(forget=[AMELIA])
    turn = await app.conversations.handle(AMELIA, "Where is my order?")
    assert turn.replies[0].startswith("Which order do you mean?")
    titles = [c["title"] for c in turn.choices]
    assert sorted(titles) == ["HP-10001", "HP-10002"]
    tapped = await app.conversations.handle(AMELIA, "HP-10002")
    assert "HP-10002" in tapped.replies[0] and tapped.choices == []


async def test_the_clarifying_question_offers_a_person_in_the_customers_language(open_app, phone):
    app = await open_app(forget=[phone])
    turn = await app.conversations.handle(phone, "Sí, ese")
    assert turn.handoff is None and turn.replies == [localized(prompts.CLARIFY_OFFER, "es")]
    assert [c["title"] for c in turn.choices] == ["Hablar con un humano"]
    tapped = await app.conversations.handle(phone, turn.choices[0]["title"])
    assert tapped.handoff is not None and tapped.handoff["reason"] == "customer_request"
    assert tapped.choices == []
