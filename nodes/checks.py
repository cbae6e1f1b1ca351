"""Text checks shared by the guardrail nodes: PII, abuse, prompt injection, secrets.

Personal data and secrets are found by `graph.base.pii` (one set of patterns for input and output);
this module keeps the names the nodes call. Every check reads normalised text (`pii.skeleton`:
NFKC, no zero-width or format characters, look-alike letters folded), so a full-width or
Cyrillic "ignore" is still "ignore". The injection check is advisory: it adds a flag and a note
to the prompt; what the model may do is limited by code around it, not by this check.
"""

from __future__ import annotations

import re

from graph.base import pii
from graph.base.pii import luhn_ok  # noqa: F401 - part of this module's interface

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
"""A plain e-mail address, as a customer proving who they are types it."""

_ABUSE = re.compile(r"\b(f+u+c+k\w*|f[\W_]{1,3}(?:c|k)\w*|f[\W_]*u[\W_]*c[\W_]*k\w*|shit\w*|bastard\w*"
                    r"|bitch\w*|idiot\w*|crap|wanker\w*|stupid|useless|scam(?:mers?)?|morons?"
                    r"|dickheads?|twats?)\b", re.I)
_RULES = (r"(?:instructions?|rules|prompts?|directions|guidelines|guardrails|restrictions|polic(?:y|ies)"
          r"|constraints|programming|directives|training|safeguards)")
_WHICH = (r"(?:all|any|every|your|previous|prior|above|earlier|preceding|original|initial|system|safety"
          r"|existing|former|given|default|developer)")
_FILLER = r"(?:the|of|these|those|my|current|old|all|any|your)"
_INJECTION = re.compile(
    rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard|neglect|circumvent)"
    rf" (?:{_FILLER} ){{0,3}}{_WHICH} (?:(?:{_WHICH}|{_FILLER}) ){{0,2}}{_RULES}\b"
    r"|\bforget (?:everything|all)(?: that)? (?:you(?:'ve| have)? (?:been told|learned|know)|above|before)"
    r"|\bnew (?:system )?(?:instructions?|rules|prompt|task|role|persona|directives?) ?:"
    r"|\b(?:your|the) (?:new|real|actual|updated) (?:instructions|rules|task|role|persona|prompt) (?:is|are)\b"
    r"|\bupdated (?:system )?instructions\b|\b(?:system|developer) (?:prompt|message|override|note)\b"
    r"|(?:^|\n) ?(?:system|assistant|developer|admin) ?:|<\|[a-z_]{2,20}\|>|\[/?(?:inst|system)\]"
    r"|<</?sys>>|</?(?:system|instructions?|assistant)>|#{2,} ?(?:system|instructions?)\b"
    r"|\b(?:reveal|show|print|repeat|output|display|leak|dump|tell me|give me|write out|spell out)"
    r" (?:me |us )?(?:your|the) (?:(?:system|initial|original|hidden|secret|full) )*(?:prompt|instructions)\b"
    r"|\b(?:reveal|show|print|dump|leak) (?:me )?your (?:rules|configuration|guidelines)\b"
    r"|\b(?:repeat|print|output|echo) (?:all )?(?:of )?(?:the )?(?:text|words|everything|messages?) (?:above|before)"
    r"|\byou are now\b|\bfrom now on,? you(?: are|'re| will| must)\b|\bpretend (?:to be|you are|you're)"
    r"|\bact as (?:an? |the |my )?(?:admin|administrator|developer|system|root|superuser|unrestricted)"
    r"|\brole-?play as\b|\b(?:developer|dan|god|admin|debug) mode\b|\bdo anything now\b|\bjailbreak"
    r"|\bsudo\b|\bprompt injection\b", re.M)
_INJECTION_COMPACT = re.compile(
    r"ignore(?:all|any|the|your)?(?:previous|prior|above|earlier)(?:instructions|rules|prompts?)"
    r"|disregard(?:all|your|the)?(?:previous|prior|above)?(?:instructions|rules)|systemprompt"
    r"|forget(?:all)?your(?:rules|instructions)|developermode|jailbreak")
"""Key phrases with every non-letter removed: "i g n o r e  p-r-e-v-i-o-u-s ..."."""
_LEET = str.maketrans("013457@$", "oieastas")


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
    """Topics a policy reserves for humans (legal, safety...) that the text raises."""
    folded = pii.skeleton(text)
    return [name for name, pattern in POLICY.items() if pattern.search(folded)]


def _views(text: str) -> tuple[str, str]:
    """The text as the word checks read it, and the same with digit-for-letter swaps undone."""
    folded = pii.skeleton(text)
    return folded, folded.translate(_LEET)


def is_abusive(text: str) -> bool:
    """Whether the text is abusive, in any of its normalised views (so spacing tricks do not hide
    it)."""
    return any(_ABUSE.search(view) for view in _views(text))


def looks_like_injection(text: str) -> bool:
    """Advisory: true for the common shapes of "ignore your instructions", including ones
    disguised with look-alike letters, invisible characters, spacing or role tags."""
    views = _views(text)
    return (any(_INJECTION.search(view) for view in views)
            or any(_INJECTION_COMPACT.search(re.sub(r"[^a-z]", "", view)) for view in views))


def scrub_output(text: str) -> tuple[str, list[str]]:
    """Remove what a reply must never carry: secrets, card and bank details, national ids and
    full account numbers (see `pii.scrub`)."""
    return pii.scrub(text)

