"""Text checks shared by the guardrail nodes: PII, abuse, prompt injection, secrets."""

from __future__ import annotations

import re

ORDER_REF = re.compile(r"\bHP-?\s?(\d{5})\b", re.I)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()-]{8,16}\d\b")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)
STREET = re.compile(
    r"\b\d{1,4}[a-z]?\s+(?:[A-Z][\w']+\s){1,3}"
    r"(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Way|Close|Drive|Place|Square|Crescent|Court|Terrace|Gardens)\b")
SECRET = re.compile(r"\b(?:sk|pk|rk|xox[abp])-[\w-]{10,}|\bBearer\s+[\w.-]{10,}|\bpassword\s*[:=]\s*\S+", re.I)
URL = re.compile(r"https?://[^\s)\]>]+")

_ABUSE = re.compile(r"\b(f+u+c+k\w*|shit\w*|bastard\w*|bitch\w*|idiot\w*|crap|wanker\w*|"
                    r"stupid|useless|scam(?:mers?)?|morons?|dickheads?|twats?)\b", re.I)
_INJECTION = re.compile(
    r"ignore (?:all |any |the )?(?:previous|prior|above) (?:instructions|rules|prompts?)"
    r"|disregard (?:your|the|all) (?:instructions|rules|system prompt)"
    r"|(?:reveal|show|print|repeat) (?:me )?(?:your|the) (?:system )?(?:prompt|instructions)"
    r"|you are now|act as (?:an? )?(?:admin|developer|system)|\bsystem prompt\b"
    r"|\bjailbreak\b|\bDAN mode\b|pretend (?:to be|you are)", re.I)


POLICY = {
    "legal_threat": re.compile(r"\b(lawyer|solicitor|attorney|legal action|sue|suing|court|"
                               r"small claims|trading standards|ombudsman)\b", re.I),
    "chargeback": re.compile(r"\b(charge ?back|dispute (the|this) (payment|charge)|"
                             r"call(ing)? my bank|reverse the (payment|charge))\b", re.I),
    "data_deletion": re.compile(r"\b(delete (all )?my (data|account|details|information)|"
                                r"erase my (data|details)|right to (be forgotten|erasure)|gdpr)\b", re.I),
}
"""Topics a bot must not handle alone: each sends the conversation to a human."""


def policy_topics(text: str) -> list[str]:
    return [name for name, pattern in POLICY.items() if pattern.search(text)]


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(text: str) -> str:
    def mask(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group())
        return "[card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else m.group()
    return CARD.sub(mask, text)


def redact_pii(text: str) -> tuple[str, list[str]]:
    """The text with card numbers, emails, phone numbers and addresses replaced, and
    which kinds were found. Order numbers are kept: they are not personal data."""
    found: list[str] = []
    redacted = _cards(text)
    if redacted != text:
        found.append("card")
    for kind, pattern in (("email", EMAIL), ("phone", PHONE), ("address", STREET),
                          ("postcode", POSTCODE)):
        redacted, n = pattern.subn(f"[{kind}]", redacted)
        if n:
            found.append(kind)
    return redacted, found


def is_abusive(text: str) -> bool:
    return bool(_ABUSE.search(text))


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))


def scrub_output(text: str) -> tuple[str, list[str]]:
    """Remove what a reply must never carry: secrets and full card or account numbers."""
    problems = []
    cleaned = _cards(text)
    if cleaned != text:
        problems.append("card_number")
    cleaned, n = SECRET.subn("[removed]", cleaned)
    if n:
        problems.append("secret")
    cleaned, n = re.subn(r"\b\d{9,}\b", lambda m: "•••• " + m.group()[-4:], cleaned)
    if n:
        problems.append("account_number")
    return cleaned, problems


def strip_urls(text: str, allowed_hosts: list[str]) -> tuple[str, list[str]]:
    """Drop URLs whose host is not allow-listed; returns the text and the dropped URLs."""
    from urllib.parse import urlparse

    dropped: list[str] = []

    def keep(m: re.Match) -> str:
        host = (urlparse(m.group()).hostname or "").lower()
        if host in allowed_hosts:
            return m.group()
        dropped.append(m.group())
        return "[link removed]"
    return URL.sub(keep, text), dropped


def order_refs(text: str) -> list[str]:
    """Order numbers in a text, normalised to HP-12345."""
    return [f"HP-{digits}" for digits in ORDER_REF.findall(text)]
