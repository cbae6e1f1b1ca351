"""WhatsApp's 24-hour customer window, the one rule the graph, outbox, desk and worker share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from graph import window

LAST = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_the_window_is_open_for_24_hours_from_the_customers_last_message():
    assert timedelta(hours=24) == window.CUSTOMER_WINDOW
    assert window.is_open(LAST, LAST)
    assert window.is_open(LAST, LAST + timedelta(hours=24))  # the last moment is still open
    assert not window.is_open(LAST, LAST + timedelta(hours=24, microseconds=1))


def test_a_customer_who_never_wrote_has_no_window():
    assert not window.is_open(None, LAST)


def test_the_rule_is_timezone_independent():
    paris = LAST.astimezone(ZoneInfo("Europe/Paris"))  # the same instant, written as 13:00
    assert window.is_open(paris, LAST + timedelta(hours=23, minutes=59))
    assert not window.is_open(paris, LAST + timedelta(hours=24, minutes=1))
