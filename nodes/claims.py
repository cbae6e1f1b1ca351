"""What one identity claim is: exactly one order reference with exactly one secret.

A secret is the email on the order, its full postcode, or the postcode's last 4 characters.
A message that offers several order references or several secrets proves nothing: every
pair it would have tried is a failed guess (tools/verification.py counts them), so one
message cannot try many orders or many secrets at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.base import pii, pii_patterns
from graph.base.pii import normalize
from tools.verification import Attempt

MAX_LOOKUPS = 20
"""Order references of one message looked up to find whom a failed claim targeted; the rest
still count as failures, with no target."""

# What may be offered as a secret; read broadly (more candidates only mean "send just one").
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)
_TAIL = re.compile(r"\b[A-Z0-9]{4}\b", re.I)
_CLOCK = re.compile(r"^\d{1,2}(AM|PM)$")  # "10am" is a time, not a postcode


def compact(text: str) -> str:
    """Upper-case letters and digits only, so order numbers and postcodes compare however typed."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


@dataclass(frozen=True)
class Claim:
    """The order references and candidate secrets in one message, distinct and normalised."""

    refs: tuple[str, ...]
    secrets: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Something was tried: at least one order with at least one secret."""
        return bool(self.refs and self.secrets)

    @property
    def several(self) -> bool:
        """More than one order or more than one secret: not one attempt."""
        return len(self.refs) > 1 or len(self.secrets) > 1


def read_claim(text: str) -> Claim:
    """The claim in a turn's raw text (all of its messages). The text is normalised first and
    every decimal digit (Arabic-Indic, Devanagari, ...) read as its ASCII digit, so look-alike
    digits or zero-width joiners neither hide a reference nor make one order look like two."""
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in normalize(text))
    refs = tuple(dict.fromkeys(pii.order_refs(text)))
    rest = pii_patterns.ORDER_REF.sub(" ", text)
    emails = [e.lower() for e in _EMAIL.findall(rest)]
    rest = _EMAIL.sub(" ", rest)
    # Full postcodes first, then what is left: "SW1A 1AA" is one secret, not "SW1A" as well.
    postcodes = [compact(m.group()) for m in _POSTCODE.finditer(rest)]
    rest = _POSTCODE.sub(" ", rest)
    tails = [compact(t) for t in _TAIL.findall(rest)
             if re.search(r"\d", t) and re.search(r"[A-Z]", t, re.I) and not _CLOCK.match(t.upper())]
    return Claim(refs, tuple(dict.fromkeys([*emails, *postcodes, *tails])))


def proves(order: Mapping[str, Any], secret: str) -> bool:
    """Whether one secret proves one order (its owner's email, postcode or postcode tail)."""
    postcode = compact(order["postcode"])
    return secret in {order["email"].strip().lower(), postcode, postcode[-4:]}


def judge(claim: Claim, orders: Mapping[str, Mapping[str, Any] | None]) -> list[Attempt]:
    """The attempts a complete claim stands for, given the orders its references name (None
    or absent: unknown). A claim of several is one failure per pair and matches nothing."""
    def owner(ref: str) -> str | None:
        order = orders.get(ref)
        return order["customer_id"] if order else None

    if claim.several:
        reason = "several_refs" if len(claim.refs) > 1 else "several_secrets"
        return [Attempt(ref, owner(ref), False, len(claim.secrets), reason) for ref in claim.refs]
    ref, secret = claim.refs[0], claim.secrets[0]
    order = orders.get(ref)
    if not order:
        return [Attempt(ref, None, False, 1, "unknown_order")]
    matched = proves(order, secret)
    return [Attempt(ref, order["customer_id"], matched, 1, "match" if matched else "mismatch")]
