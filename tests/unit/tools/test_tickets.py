"""create_ticket and update_ticket: stored redacted, idempotent per turn, own tickets only."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from tests.unit.tools.conftest import calls_to
from tools.tickets import create_ticket, update_ticket

RAVI = {"id": "C-2", "name": "Ravi Patel", "phone": "447700900102", "email": "ravi@example.com",
        "tier": "vip"}


async def test_a_ticket_is_opened_with_personal_data_redacted(tool_runtime, shop):
    text = await create_ticket("Refund to 4111 1111 1111 1111",
                               "Email me at amelia.other@example.com about HP-10002",
                               runtime=tool_runtime(), priority="high")
    assert text == ("I've opened ticket T-5001 (high priority). Our team will follow up within"
                    " one working day.")
    [ticket] = shop.ticket_rows
    assert ticket["customer_id"] == "C-1" and ticket["priority"] == "high"
    assert ticket["subject"] == "Refund to [card]"
    assert ticket["notes"] == ["Email me at [email] about HP-10002"]


async def test_the_reply_never_echoes_what_the_model_wrote(tool_runtime):
    text = await create_ticket("Visit https://evil.example", "Call +44 7700 900999",
                               runtime=tool_runtime())
    assert "evil" not in text and "7700" not in text
    assert "normal priority" in text


async def test_a_turn_run_again_opens_its_tickets_once(tool_runtime, shop):
    def runtime(call_id: str, *ids: str):
        return tool_runtime(turn_key="turn-7", tool_call_id=call_id,
                            messages=[HumanMessage("two problems"), calls_to("create_ticket", *ids)])

    first = await create_ticket("Mug", "Broken", runtime=runtime("a1", "a1", "a2"))
    second = await create_ticket("Lamp", "Flickers", runtime=runtime("a2", "a1", "a2"))
    # The crashed turn runs again: the model gives its calls new ids.
    again = await create_ticket("Mug", "Broken", runtime=runtime("b1", "b1", "b2"))
    again_second = await create_ticket("Lamp", "Flickers", runtime=runtime("b2", "b1", "b2"))
    assert "T-5001" in first and "T-5002" in second
    assert "T-5001" in again and "T-5002" in again_second
    assert len(shop.ticket_rows) == 2
    assert sorted(shop.keys) == ["turn-7:ticket:0", "turn-7:ticket:1"]


async def test_without_a_turn_key_every_call_opens_a_ticket(tool_runtime, shop):
    await create_ticket("Mug", "Broken", runtime=tool_runtime())
    await create_ticket("Mug", "Broken", runtime=tool_runtime())
    assert [t["id"] for t in shop.ticket_rows] == ["T-5001", "T-5002"]
    assert shop.keys == {}


async def test_a_ticket_is_updated_and_resolved(tool_runtime, shop):
    await create_ticket("Mug", "Broken", runtime=tool_runtime())
    text = await update_ticket(" t-5001 ", "Card 4111 1111 1111 1111", runtime=tool_runtime(),
                               status="resolved")
    assert text == "Ticket T-5001 updated; it is now resolved."
    assert shop.ticket_rows[0]["notes"] == ["Broken", "Card [card]"]
    assert await update_ticket("T-5001", "again", runtime=tool_runtime()) == \
        "Ticket T-5001 updated; it is now resolved."


async def test_someone_elses_ticket_and_non_ticket_numbers_are_refused(tool_runtime, shop):
    await create_ticket("Mug", "Broken", runtime=tool_runtime())
    refused = await update_ticket("T-5001", "closing it", runtime=tool_runtime(customer=RAVI),
                                  status="resolved")
    assert refused == "Refused: no ticket T-5001 on this customer's account."
    assert shop.ticket_rows[0]["status"] == "open" and shop.ticket_rows[0]["notes"] == ["Broken"]
    for junk in ("T-5001; DROP TABLE", "<b>T-1</b>", "HP-10002", "T-"):
        text = await update_ticket(junk, "x", runtime=tool_runtime())
        assert text == "Refused: that is not a ticket number (they look like T-5001)."
    assert [c for c, _ in shop.calls].count("update_ticket") == 1  # only the well-formed one
