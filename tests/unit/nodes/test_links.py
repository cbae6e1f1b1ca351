"""graph.base.links: which text is a link, and which links may stay."""

import pytest

from graph.base.links import REMOVED, is_allowed_url, remove_links
from nodes.common import say

HOSTS = ["help.harborandpine.example", "harborandpine.example"]


@pytest.mark.parametrize("text", [
    "See https://help.harborandpine.example/refunds#how-long-refunds-take.",
    "Go to help.harborandpine.example/returns, then print the label.",
    "HTTPS://HELP.HARBORANDPINE.EXAMPLE/refunds",
    "Email help@harborandpine.example.",
    "(https://harborandpine.example/account)",
    "The leaflet is returns.pdf and the photo IMG_2041.jpg.",
    "It costs £9.95, e.g. for sofas, i.e. big items, by 2 p.m. (v2.1) on 12.10.2026.",
])
def test_allowed_links_and_ordinary_text_are_kept(text):
    assert remove_links(text, HOSTS) == (text, 0)


@pytest.mark.parametrize("text, kept", [
    ("Pay at evil.example/pay now", "Pay at [link removed] now"),
    ("Visit www.evil-example.com.", "Visit [link removed]."),
    ("Mail refunds@evil.example today", "Mail [link removed] today"),
    ("*evil.example*", "*[link removed]*"),
    ("[form](https://evil.example/form)", "[form]([link removed])"),
    ("help.harborandpine.example:evil.example", "help.harborandpine.example:[link removed]"),
])
def test_removed_links_leave_the_sentence_around_them(text, kept):
    assert remove_links(text, HOSTS)[0] == kept


def test_subdomains_of_an_allowed_host_are_not_implied():
    assert remove_links("track.harborandpine.example/HP-10001", HOSTS) == (REMOVED, 1)


@pytest.mark.parametrize("url, allowed", [
    ("https://help.harborandpine.example/refunds#timing", True),
    ("http://harborandpine.example/", True),
    ("help.harborandpine.example/refunds", False),  # no scheme: not a stored URL
    ("javascript:alert(1)", False), ("file:///etc/passwd", False),
    ("https://help.harborandpine.example:443/x", False),
    ("https://x@help.harborandpine.example/", False),
    ("https://ｈelp.harborandpine.example/", False),  # look-alike spelling, even if it folds
    ("https://help.harborandpine.example/a b", False),
])
def test_stored_urls_must_be_one_plain_http_link_to_an_allowed_host(url, allowed):
    assert is_allowed_url(url, HOSTS) is allowed


def test_say_removes_links_from_every_text_and_the_transcript():
    update = say("Hi", "Pay at evil.example", allowed_hosts=HOSTS)
    assert update["outbound"] == ["Hi", f"Pay at {REMOVED}"]
    assert [m.content for m in update["messages"]] == update["outbound"]
