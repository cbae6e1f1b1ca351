"""Reply buttons and lists in the outbox: the interactive part is queued with the last text
part inside the 24-hour window only, becomes pywa buttons or a list for Meta, text for Twilio,
and the fake Cloud API refuses what Meta would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pywa.types import Button, SectionList

from server.outbox import TwilioSender, enqueue_reply
from server.outbox.senders import LIST_BUTTON, interactive_buttons
from server.simulator.fake_cloud_api import interactive_problem, interactive_titles

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TWO = [{"id": "HP-10007", "title": "HP-10007"}, {"id": "HP-10008", "title": "HP-10008"}]
FIVE = [{"id": f"HP-1000{i}", "title": f"HP-1000{i}", "description": f"Item {i}"} for i in range(5)]


class RecordingConn:
    """Keeps the INSERTs enqueue_reply makes, each new (as for a first run of a turn), for a
    customer with no consent row yet (the SELECT of it finds nothing)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.found: dict | None = None

    async def execute(self, query: str, params: tuple) -> RecordingConn:
        if query.startswith("SELECT"):
            self.found = None
        else:
            self.rows.append(params)
            self.found = {"id": len(self.rows)}
        return self

    async def fetchone(self) -> dict | None:
        return self.found


async def enqueued(texts: list[str], *, since_customer: timedelta = timedelta(minutes=5),
                   provider: str = "meta", choices=TWO) -> list[tuple]:
    conn = RecordingConn()
    await enqueue_reply(conn, conversation_key="447700900101", recipient="447700900101",
                        provider=provider, texts=texts, idempotency_key="turn-1",
                        last_customer_at=NOW - since_customer, now=NOW,
                        window_template={"name": "reengage", "language": "en"}, choices=choices)
    return conn.rows


async def test_the_choices_go_with_the_last_text_part_inside_the_window():
    rows = await enqueued(["Which order?\n1) HP-10007\n2) HP-10008\nReply with the number."])
    [(key, *_, kind, body, template, _reply_to, _due, _created, _updated, interactive, notice)] = rows
    assert key == "turn-1:0" and kind == "text" and template is None and "1) HP-10007" in body
    assert json.loads(interactive) == {"choices": TWO} and notice is False
    long = await enqueued(["word " * 1000], provider="twilio")  # split at 1,600 characters
    assert [r[11] is not None for r in long] == [False, False, False, True]


async def test_outside_the_window_a_template_goes_and_no_choices():
    [row] = await enqueued(["Which order?"], since_customer=timedelta(hours=25))
    assert row[4] == "template" and row[11] is None


async def test_a_body_too_long_for_an_interactive_message_goes_as_plain_text():
    [row] = await enqueued(["x" * 1500])
    assert row[4] == "text" and row[11] is None
    [plain] = await enqueued(["Hello"], choices=[])
    assert plain[11] is None


def test_up_to_three_choices_are_reply_buttons_more_a_list():
    buttons = interactive_buttons(TWO)
    assert all(isinstance(b, Button) for b in buttons)
    assert [(b.title, b.callback_data) for b in buttons] == [("HP-10007", "HP-10007"),
                                                             ("HP-10008", "HP-10008")]
    listed = interactive_buttons(FIVE)
    assert isinstance(listed, SectionList) and listed.button_title == LIST_BUTTON
    [section] = listed.sections
    assert [(r.title, r.description) for r in section.rows] == [
        (c["title"], c["description"]) for c in FIVE]
    # Titles queued too long by another writer are still cut to Meta's limits.
    [cut] = interactive_buttons([{"id": "x", "title": "A title far beyond twenty characters"}])
    assert len(cut.title) <= 20


async def test_twilio_sends_the_numbered_text_for_choices(monkeypatch):
    twilio = TwilioSender(account_sid="AC" + "0" * 32, auth_token="t",
                          from_number="whatsapp:+14155238886")
    sent = []

    async def create(fields, recipient, outbox_id):
        sent.append(fields)
        return "SM1"

    monkeypatch.setattr(twilio, "_create", create)
    assert await twilio.send_choices("447700900101", "Which order?\n1) HP-10007", TWO) == "SM1"
    assert sent == [{"Body": "Which order?\n1) HP-10007"}]
    await twilio.aclose()


def test_the_fake_cloud_api_refuses_what_meta_would():
    def buttons(*titles: str, body: str = "Pick one") -> dict:
        return {"type": "button", "body": {"text": body}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": t, "title": t}} for t in titles]}}

    assert interactive_problem(buttons("Yes", "No")) is None
    assert interactive_titles(buttons("Yes", "No")) == ["Yes", "No"]
    assert interactive_problem(buttons("1", "2", "3", "4"))
    assert interactive_problem(buttons("Twenty-one characters"))
    assert interactive_problem(buttons("Yes", body=""))
    rows = [{"id": str(i), "title": f"Row {i}"} for i in range(11)]
    listed = {"type": "list", "body": {"text": "Pick"},
              "action": {"button": "Choose", "sections": [{"title": "All", "rows": rows}]}}
    assert interactive_problem(listed)  # 11 rows
    listed["action"]["sections"][0]["rows"] = rows[:10]
    assert interactive_problem(listed) is None
