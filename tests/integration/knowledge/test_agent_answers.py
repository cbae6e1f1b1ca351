"""The agent on the real knowledge base: answer with citations, or hand off when it has none."""

from __future__ import annotations

import pytest

from nodes import prompts

pytestmark = pytest.mark.integration


async def test_off_topic_question_gets_no_passages_and_a_human_offer(open_app, phone):
    app = await open_app(forget=[phone])
    turn = await app.conversations.handle(phone, "who won the football last night?")
    assert turn.state["passages"] == []
    # Unsure the first time: a clarifying question with an offer of a human, not a ticket.
    assert turn.state["reply"]["handoff"] is False and turn.state["reply"]["citations"] == []
    assert turn.handoff is None and turn.replies == [prompts.CLARIFY_OFFER]
    assert "Sources" not in turn.replies[0]


async def test_answer_cites_retrieved_chunks_that_map_to_their_section(open_app, phone):
    app = await open_app(forget=[phone])
    turn = await app.conversations.handle(phone, "what are the opening hours of your stores?")
    passages = {p["id"]: p for p in turn.state["passages"]}
    assert turn.state["reply"]["citations"]
    for cited in turn.state["reply"]["citations"]:
        stem, _, section_anchor = cited.partition("#")
        assert passages[cited]["url"].startswith(f"https://help.harborandpine.example/{stem}")
        assert passages[cited]["url"].endswith(f"#{section_anchor}" if section_anchor else stem)
        assert f"{passages[cited]['title']} › {passages[cited]['section']}: {passages[cited]['url']}" \
            in turn.replies[0]
