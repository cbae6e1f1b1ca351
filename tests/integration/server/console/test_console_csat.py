"""CSAT end to end over real HTTP: an agent resolves with a rating prompt, the customer's signed
webhook reply is stored against that agent and thanked (no other bot answer), and the console
shows it on the conversation page and the agent's average on the queue page."""

from __future__ import annotations

import re

import pytest

from nodes import prompts
from server.desk.desk import CSAT_PROMPT
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import console_for, handed_off, ref_for, unique

pytestmark = pytest.mark.integration
SENT = ("SELECT id, body FROM outbox WHERE conversation_key = %s AND kind <> 'read_receipt'"
        " AND id >= %s ORDER BY id")


async def test_a_customers_rating_is_stored_thanked_and_shown(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    team = unique("csat")  # a team of its own: the queue's averages show only this agent
    console, boss = await console_for(server, team=team), await console_for(server, role="supervisor")
    try:
        await server.rows("UPDATE desk_conversations SET team = %s WHERE key = %s RETURNING key",
                          team, phone)
        await console.act(ref, "claim")
        page = await console.act(ref, "resolve", csat="1")
        assert "CSAT prompt sent." in page.text and "asked, waiting for a rating" in page.text
        [prompt] = await server.wait_for("SELECT id FROM outbox WHERE conversation_key = %s"
                                         " AND body = %s", phone, CSAT_PROMPT)

        assert (await server.post_meta(text_message(phone, "⭐⭐⭐⭐"))).status_code == 200
        rated = await server.wait_for("SELECT agent_id, score, raw_kind FROM desk_csat"
                                      " WHERE conversation_key = %s AND score IS NOT NULL", phone)
        assert rated == [{"agent_id": console.agent_id, "score": 4, "raw_kind": "emoji"}]
        await server.wait_for(SENT, phone, prompt["id"], count=2)
        said = [r["body"] for r in await server.rows(SENT, phone, prompt["id"])]
        assert said == [CSAT_PROMPT, prompts.CSAT_THANKS]  # thanked; nothing else answered
        [desk] = await server.rows("SELECT state FROM desk_conversations WHERE key = %s", phone)
        assert desk["state"] == "CLOSED"  # a rating answers the resolve; it does not reopen

        page = await console.http.get(f"/console/c/{ref}")
        card = re.search(r'<div class="card" id="csat">(.*?)</div>', page.text, re.S)[1]
        assert "4/5" in card and "★★★★☆" in card and console.agent_id in card and "emoji" in card
        queue = (await console.http.get("/console")).text
        row = re.search(rf'<tr data-agent="{console.agent_id}">(.*?)</tr>', queue, re.S)[1]
        assert '<td class="csat-average">4.00</td><td>1</td>' in row
        everyone = (await boss.http.get("/console")).text  # a supervisor sees every team's agents
        assert f'data-agent="{console.agent_id}"' in everyone
    finally:
        await console.aclose()
        await boss.aclose()
