"""Personal data and secrets in text: one set of patterns for what comes in and what goes out.

Text is normalised before any check (NFKC, zero-width and format characters removed), so
look-alike digits, full-width letters and invisible separators do not slip past a pattern.
`redact` serves everything stored or shown (inbox, checkpoints, desk, logs); `scrub` is the
narrower set a reply to the customer must never carry. The patterns live in `pii_patterns`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from graph.base import pii_patterns as p
from graph.base.pii_patterns import iban_ok, luhn_ok  # noqa: F401 - part of this module's interface

_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164"
                       + "".join(map(chr, range(0xFE00, 0xFE10))))
"""Characters that show nothing but are not format characters (Cf): the combining grapheme
joiner, Hangul and Braille blanks, Mongolian and variation selectors."""
_MARKS_ON_ASCII = re.compile(r"(?<=[\x21-\x7e])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
"""Combining marks left on an ASCII character after NFKC (4̲1̲1̲1̲): letters of other scripts
keep theirs."""


def normalize(text: str) -> str:
    """The text as the checks see it: NFKC-folded, with format characters (Cf: zero-width
    spaces and joiners, direction marks, soft hyphens), other invisible characters and
    combining marks on ASCII characters removed; digits of every script made ASCII."""
    if text.isascii():  # NFKC leaves ASCII as it is, and ASCII has no format characters
        return text
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(_ascii_digit(ch) for ch in folded
                      if ch not in _INVISIBLE and unicodedata.category(ch) != "Cf")
    return _MARKS_ON_ASCII.sub("", visible)


def _ascii_digit(ch: str) -> str:
    """Digits of any script as 0-9 (NFKC leaves Arabic-Indic or Devanagari digits as they are)."""
    return str(unicodedata.decimal(ch)) if not ch.isascii() and unicodedata.category(ch) == "Nd" else ch


_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "ո": "n", "ս": "u", "α": "a", "β": "b", "ε": "e", "η": "n",
    "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "ɑ": "a", "ɩ": "i", "ᴀ": "a"})


def skeleton(text: str) -> str:
    """Text folded for matching words: normalised, lower-cased, accents dropped, Cyrillic and
    Greek look-alikes mapped to Latin, runs of spaces made one space (line breaks are kept:
    a role tag such as "system:" at the start of a line means something)."""
    folded = normalize(text).casefold().translate(_CONFUSABLES)
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
    return re.sub(r"[^\S\n]+", " ", re.sub(r"\s*\n\s*", "\n", bare)).strip()


Replace = str | Callable[[re.Match], "str | None"]
RULES: list[tuple[str, re.Pattern, Replace]] = [
    ("location", p.SHARED_LOCATION, "[location]"),
    ("contacts", p.SHARED_CONTACTS, "[contacts]"),
    ("secret", p.PRIVATE_KEY, "[secret]"),
    ("secret", p.API_KEY, "[secret]"),
    ("secret", p.URL_CREDENTIALS, "[secret]"),
    ("cvv", p.CVV, "[cvv]"),
    ("secret", p.SECRET_VALUE, p.password),
    ("secret", p.BARE_PASSWORD, "[secret]"),
    ("email", p.EMAIL, "[email]"),
    ("email", p.SPACED_EMAIL, "[email]"),
    ("email", p.SPELLED_EMAIL, "[email]"),
    ("email", p.MAILBOX_EMAIL, "[email]"),
    ("iban", p.IBAN_CONTEXT, "[iban]"),
    ("iban", p.IBAN, p.iban_run),
    ("card", p.CARD_DIGITS, p.card_groups),
    ("card", p.CARD_TAIL, "[card details]"),
    ("bank", p.BANK, "[bank]"),
    ("national_id", p.UK_NI, "[national id]"),
    ("national_id", p.US_SSN, "[national id]"),
    ("dob", p.DOB, "[dob]"),
    ("dob", p.OLD_DATE, "[dob]"),
    ("location", p.COORDINATES, "[location]"),
    ("phone", p.PHONE_CONTEXT, "[phone]"),
    ("phone", p.PHONE, p.phone),
    ("address", p.STREET, "[address]"),
    ("postcode", p.US_ZIP, "[postcode]"),
    ("postcode", p.UK_POSTCODE, "[postcode]"),
]
"""In order: shared locations and contacts (whole lines), secrets (they hold digits and @),
then formats that contain shorter ones."""

OUTPUT_KINDS = frozenset({"secret", "cvv", "card", "iban", "national_id"})
"""What a reply must never carry. E-mails, phones and addresses may be the shop's own, or the
verified customer's delivery address read back to them. Account numbers are shown by their
last four digits."""


def _apply(pattern: re.Pattern, replace: Replace, text: str) -> tuple[str, bool]:
    hit = False

    def sub(match: re.Match) -> str:
        nonlocal hit
        label = replace(match) if callable(replace) else replace
        if label is None or label == match.group():
            return match.group()
        hit = True
        group = next((g for g in ("v", "w", "x") if g in pattern.groupindex and match.group(g)), None)
        if group is None:
            return label
        start, end = match.span(group)
        return match.string[match.start():start] + label + match.string[end:match.end()]
    return pattern.sub(sub, text), hit


_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def _shield(text: str) -> tuple[str, list[str]]:
    """Order numbers swapped for private-use placeholders, so no pattern can take them."""
    refs: list[str] = []

    def keep(match: re.Match) -> str:
        if len(refs) >= 6400:  # the private-use block is full: leave the rest unshielded
            return match.group()
        refs.append(match.group())
        return chr(0xE000 + len(refs) - 1)
    text = _PRIVATE_USE.sub("\ufffd", text)  # a placeholder must not be forged by the sender
    return p.ORDER_REF.sub(keep, text), refs


def redact(text: str, kinds: frozenset[str] | None = None) -> tuple[str, list[str]]:
    """The text with personal data and secrets replaced by [kind] labels, and the kinds found
    (in rule order). Order numbers, prices, quantities and recent dates are kept. Text with
    nothing to redact comes back exactly as given; otherwise it comes back normalised."""
    if not text:
        return text, []
    work, refs = _shield(normalize(text))
    found: list[str] = []
    for kind, pattern, replace in RULES:
        if kinds is not None and kind not in kinds:
            continue
        work, hit = _apply(pattern, replace, work)
        if hit and kind not in found:
            found.append(kind)
    if not found:
        return text, []
    for i, ref in enumerate(refs):
        work = work.replace(chr(0xE000 + i), ref)
    return work, found


ACCOUNT_NUMBER = re.compile(r"\b\d{9,}\b")
_OUTPUT_PROBLEM = {"card": "card_number"}


def scrub(text: str) -> tuple[str, list[str]]:
    """A reply cleaned of what it must never carry: secrets, card and bank details, national
    ids; any other long number is shown by its last four digits. Returns the problems found."""
    cleaned, found = redact(text, OUTPUT_KINDS)
    problems = [_OUTPUT_PROBLEM.get(kind, kind) for kind in found]
    cleaned, banked = _apply(p.BANK, lambda m: _last_four(m.group("v") or m.group("w")), cleaned)
    cleaned, n = ACCOUNT_NUMBER.subn(lambda m: _last_four(m.group()), cleaned)
    if banked or n:
        problems.append("account_number")
    return cleaned, problems


def _last_four(number: str) -> str:
    return "•••• " + re.sub(r"\D", "", number)[-4:]


def order_refs(text: str) -> list[str]:
    """Order numbers in a text, normalised to HP-12345 (they are not personal data)."""
    return ["HP-" + re.sub(r"\D", "", found) for found in p.ORDER_REF.findall(text)]
