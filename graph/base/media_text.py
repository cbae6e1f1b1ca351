"""How a media message reads as text, and which of this turn's texts the bot could not read.

One rule for both ends: the channel parsers write a media message's text with `placeholder`
("[image]", "[image] <caption>", "[document: name.pdf]"), the media fetcher replaces a voice
note's with `transcribed` once it has the transcript, and the input guardrail asks
`unread_kind` which texts are media the bot has not read, to tell the customer so.

A customer who types "[image]" gets the same answer as one who sends a photo: harmless, since
the answer only says what the bot cannot do.
"""

from __future__ import annotations

import re

MEDIA_KINDS = ("image", "video", "audio", "voice", "sticker", "document")
HEARD_KINDS = frozenset({"audio", "voice"})
"""Kinds that speech to text can turn into text."""
SILENT_KINDS = frozenset({"sticker"})
"""Media that says nothing by itself (like an emoji): no "I can't read that" for it."""
TRANSCRIBED = "[voice note]"
_PLACEHOLDER = re.compile(r"\[(" + "|".join(MEDIA_KINDS) + r")(?::[^\]\n]*)?\](?:[ \t]+(.*))?",
                          re.DOTALL)


def placeholder(kind: str, *, caption: str | None = None, filename: str | None = None) -> str:
    """The text of a media message: its kind (and a document's file name), then any caption."""
    name = _one_line(filename)[:120] if filename else ""
    head = f"[{kind}: {name}]" if kind == "document" and name else f"[{kind}]"
    return f"{head} {caption}" if caption and caption.strip() else head


def transcribed(transcript: str) -> str:
    """The text of a voice note the bot has heard."""
    return f"{TRANSCRIBED} {transcript.strip()}"


def unread_kind(text: str) -> tuple[str, bool] | None:
    """(kind, whether a caption came with it) when `text` is a media placeholder; else None."""
    match = _PLACEHOLDER.fullmatch(text.strip())
    if match is None:
        return None
    return match.group(1), bool((match.group(2) or "").strip())


def _one_line(name: str) -> str:
    """A file name that cannot close the bracket or start a new line."""
    return re.sub(r"[\]\[\r\n\t]+", " ", name).strip()
