"""The login throttle's rules that need no database: backoff, client address, hashed subjects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.requests import Request

from graph.base.settings import ConsoleLoginSettings
from server.console.throttle import LoginThrottle, client_address, subject


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "POST", "path": "/console/login", "headers": headers,
                    "client": (peer, 50000), "query_string": b""})


def test_backoff_doubles_from_the_base_and_is_capped():
    throttle = LoginThrottle(None, ConsoleLoginSettings(backoff_base_s=1, backoff_max_s=60))
    assert [throttle.backoff(n).total_seconds() for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert throttle.backoff(10_000) == timedelta(seconds=60)  # no overflow for huge counts


def test_without_trusted_proxies_x_forwarded_for_is_ignored():
    assert client_address(request("192.0.2.1", "203.0.113.9"), 0) == "192.0.2.1"


@pytest.mark.parametrize("forwarded,hops,expected", [
    (("203.0.113.9",), 1, "203.0.113.9"),
    (("6.6.6.6, 203.0.113.9",), 1, "203.0.113.9"),           # the client's own entries are ignored
    (("6.6.6.6", "203.0.113.9"), 1, "203.0.113.9"),          # repeated headers count as one list
    (("6.6.6.6, 203.0.113.9, 10.0.0.2",), 2, "203.0.113.9"),  # two proxies: the outer one's view
    ((), 1, "192.0.2.1"),                                      # not through the proxy: the peer
    (("203.0.113.9",), 2, "192.0.2.1"),
])
def test_behind_proxies_the_address_they_appended_counts(forwarded, hops, expected):
    assert client_address(request("192.0.2.1", *forwarded), hops) == expected


def test_subjects_are_hashed_per_scope():
    assert subject("account", "sam") != subject("address", "sam")
    assert "sam" not in subject("account", "sam") and len(subject("account", "sam")) == 64
