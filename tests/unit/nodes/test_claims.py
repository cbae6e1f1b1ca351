"""What one identity claim is: one order, one secret, read from normalised text."""

from __future__ import annotations

import pytest

from nodes.claims import judge, proves, read_claim

LIAM_ORDER = {"customer_id": "C-1004", "postcode": "EH4 1JS", "email": "liam.oconnor@example.com"}
AMELIA_ORDER = {"customer_id": "C-1001", "postcode": "SW1A 1AA", "email": "amelia.hart@example.com"}


@pytest.mark.parametrize("text, refs, secrets", [
    ("HP-10007 41JS", ("HP-10007",), ("41JS",)),
    ("hp10007, postcode eh4 1js", ("HP-10007",), ("EH41JS",)),
    ("HP-10001 SW1A 1AA", ("HP-10001",), ("SW1A1AA",)),  # one postcode, not "SW1A" as well
    ("HP 10007 Liam.OConnor@Example.com", ("HP-10007",), ("liam.oconnor@example.com",)),
    ("ＨＰ－１０００７ ４１ＪＳ", ("HP-10007",), ("41JS",)),  # full-width
    ("HP-١٠٠٠٧ 41JS", ("HP-10007",), ("41JS",)),  # Arabic-Indic digits
    ("HP-100\u200b07 41\u200dJS", ("HP-10007",), ("41JS",)),  # zero-width characters
    ("HP-10007 and again hp 10007, 41js or 41JS", ("HP-10007",), ("41JS",)),  # repeats are one
    ("need HP-10007 by 10am", ("HP-10007",), ()),  # a time is no secret
    ("where is my order?", (), ()),
])
def test_reads_order_refs_and_secrets(text, refs, secrets):
    claim = read_claim(text)
    assert (claim.refs, claim.secrets) == (refs, secrets)


def test_several_refs_or_several_secrets_are_not_one_claim():
    assert read_claim("HP-10001 HP-10007 41JS").several
    assert read_claim("HP-10007 41JS liam.oconnor@example.com").several
    assert read_claim("HP-10007 a@x.example b@x.example").several
    assert not read_claim("HP-10007 41JS").several
    assert not read_claim("HP-10007").complete and not read_claim("41JS").complete


def test_a_secret_proves_its_order_only():
    assert proves(LIAM_ORDER, "41JS") and proves(LIAM_ORDER, "EH41JS")
    assert proves(LIAM_ORDER, "liam.oconnor@example.com")
    assert not proves(LIAM_ORDER, "1AA") and not proves(AMELIA_ORDER, "41JS")


def test_one_order_one_secret_is_one_attempt():
    [hit] = judge(read_claim("HP-10007 41JS"), {"HP-10007": LIAM_ORDER})
    assert (hit.customer_id, hit.matched, hit.failures, hit.reason) == ("C-1004", True, 1, "match")
    [miss] = judge(read_claim("HP-10007 9ZZZ"), {"HP-10007": LIAM_ORDER})
    assert (miss.matched, miss.reason) == (False, "mismatch")
    [unknown] = judge(read_claim("HP-99999 41JS"), {"HP-99999": None})
    assert (unknown.customer_id, unknown.reason) == (None, "unknown_order")


def test_a_claim_of_several_is_a_failure_per_pair_and_matches_nothing():
    claim = read_claim("HP-10001 HP-10007 41JS amelia.hart@example.com")
    found = judge(claim, {"HP-10001": AMELIA_ORDER, "HP-10007": LIAM_ORDER})
    assert [(a.order_ref, a.customer_id, a.failures, a.matched) for a in found] == [
        ("HP-10001", "C-1001", 2, False), ("HP-10007", "C-1004", 2, False)]
    assert {a.reason for a in found} == {"several_refs"}
