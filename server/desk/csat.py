"""Customer satisfaction (CSAT): the rating a customer gives after an agent resolves a chat.

The one place that decides what counts as a rating and when one is accepted:

- Resolving with "ask for CSAT" records a request against the conversation and the agent who
  resolved it (`ask`), in the transaction that queues the prompt. A newer request replaces an
  older open one.
- A request accepts ratings for ACCEPT_FOR (24 h) after the prompt, until the customer sends a
  message that is not purely a rating: then the customer has moved on and it closes. While it
  is open, a later rating replaces an earlier one (a customer correcting "4" to "5").
- A rating is 1-5 as a digit or word ("4", "five", "4/5", "3 out of 5", "5 stars"), a run of
  stars ("⭐⭐⭐⭐", "★★★☆☆") or one face or thumb emoji (😡 1 ... 😀 5, 👎 1, 👍 5), with at
  most a few filler words ("5, thanks!", "4 - great"). Quick-reply button titles arrive as text
  and are read the same way (the prompt itself is plain text: there is no button id to read).
- "5 stars but my sofa is still broken" is a rating plus a new question: the rating is stored
  and the bot answers the message. Only an explicit rating ("N stars", "N/5", "N out of 5",
  stars, "I'd give it a N") is taken from a longer message; a bare number or face followed by
  more words ("2 sofas arrived broken") is not a rating.

Only the score, how it was written (digit, word, emoji) and when are stored, never the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from graph.base.sql import Conn

ACCEPT_FOR = timedelta(hours=24)
"""How long after the prompt a rating is accepted (unless the customer moved on before)."""
AVERAGE_OVER = timedelta(days=30)
"""The window of the per-agent averages the console shows."""

Kind = Literal["digit", "word", "emoji"]


@dataclass(frozen=True)
class Rating:
    """A customer's CSAT answer: the score, how it was given, and whether it was only a rating."""

    score: int
    kind: Kind
    pure: bool
    """True when the message is the rating and nothing else (the bot then only thanks)."""


# --- Reading a rating ----------------------------------------------------------------------

_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_STAR, _EMPTY_STAR = "⭐🌟★", "☆"
_FACES = {**dict.fromkeys("😡🤬😠😤👎💩", 1), **dict.fromkeys("😞😢😟🙁☹😕😒", 2),
          **dict.fromkeys("😐😑😶🤷", 3), **dict.fromkeys("🙂😊👌", 4),
          **dict.fromkeys("😀😃😄😁😍🥰🤩😻👍👏🙌💯❤💚💙💜🧡💛🎉", 5)}
_STARS = re.compile(rf"[{_STAR}{_EMPTY_STAR}](?:\s*[{_STAR}{_EMPTY_STAR}])*")
_NUMBER = re.compile(
    r"(?P<lead>(?:i(?:['’]d| would| will|['’]ll)?\s+)?(?:give|rate)\s+(?:(?:you|it|this|us|the chat)\s+)?"
    r"(?:an?\s+)?|(?:my\s+)?(?:rating|score)\s*(?:is\s*)?[:=-]?\s*)?"
    r"(?P<n>[1-5]|one|two|three|four|five)(?!\w)(?![.,]\d)"
    rf"(?P<scale>\s*(?:/\s*(?:5|five)|out\s+of\s+(?:5|five)|of\s+(?:5|five)|stars?|[{_STAR}]+)(?!\w))?")
_FILLER = frozenset({
    "thanks", "thank", "you", "thx", "ty", "cheers", "great", "good", "excellent", "amazing",
    "awesome", "perfect", "brilliant", "super", "fantastic", "lovely", "nice", "helpful", "fine",
    "ok", "okay", "poor", "bad", "terrible", "awful", "horrible", "not", "so", "very", "really",
    "service", "support", "chat", "team", "much", "lot", "all", "a", "the", "it", "was", "is",
    "overall", "stars", "star"})
"""Words that may stand around a rating without making it a message of its own."""
_IGNORED = re.compile(r"[\ufe0f\ufe0e\u200d\U0001f3fb-\U0001f3ff]")  # emoji variants, skin tones


def parse(text: str) -> Rating | None:
    """The CSAT rating in one customer message, if it is one (see the module's rules)."""
    text = _IGNORED.sub("", unicodedata.normalize("NFKC", text)).strip().lower()
    if not text or len(text) > 300:
        return None
    if stars := _STARS.match(text):
        score = sum(stars[0].count(c) for c in _STAR)
        if not 1 <= score <= 5 or len(stars[0].replace(" ", "")) > 5:
            return None
        return _rating(score, "emoji", text[stars.end():], explicit=True)
    if text[0] in _FACES:
        rest = text[1:].lstrip(text[0])  # "😀😀" is one face, said twice
        return _rating(_FACES[text[0]], "emoji", rest, explicit=False)
    if number := _NUMBER.match(text):
        word = number["n"]
        kind: Literal["digit", "word"] = "digit" if word.isdigit() else "word"
        score = int(word) if kind == "digit" else _WORDS[word]
        explicit = bool(number["scale"] or number["lead"])
        return _rating(score, kind, text[number.end():], explicit=explicit)
    return None


def _rating(score: int, kind: Kind, rest: str, *, explicit: bool) -> Rating | None:
    """A rating if what follows it is filler, or if it was explicit enough to stand apart."""
    words = re.findall(r"[^\W_]+", rest)
    if all(w in _FILLER for w in words):
        return Rating(score, kind, pure=True)
    return Rating(score, kind, pure=False) if explicit else None


# --- The record ----------------------------------------------------------------------------

async def ask(conn: Conn, key: str, agent_id: str, now: datetime | None = None) -> None:
    """Record that the customer was asked to rate the agent who resolved the conversation."""
    now = now or datetime.now(UTC)
    await conn.execute("UPDATE desk_csat SET closed_at = %s WHERE conversation_key = %s"
                       " AND closed_at IS NULL", (now, key))
    await conn.execute("INSERT INTO desk_csat (conversation_key, agent_id, asked_at)"
                       " VALUES (%s, %s, %s)", (key, agent_id, now))


async def take_reply(conn: Conn, key: str, texts: list[str] | tuple[str, ...],
                     now: datetime | None = None) -> Rating | None:
    """If a request is open for this conversation, store the rating these messages give (the
    last one, if several do) and close the request unless they are only a rating. Returns
    the rating, pure only when every message is purely a rating. Safe to run again for the
    same messages (a re-run turn): it stores the same score and closes the same request."""
    now = now or datetime.now(UTC)
    if not await (await conn.execute(  # every turn asks: one indexed look-up when none is open
            "SELECT 1 FROM desk_csat WHERE conversation_key = %s AND closed_at IS NULL LIMIT 1",
            (key,))).fetchone():
        return None
    async with conn.transaction():
        request = await (await conn.execute(
            "SELECT id, asked_at FROM desk_csat WHERE conversation_key = %s AND closed_at IS NULL"
            " ORDER BY id DESC LIMIT 1 FOR UPDATE", (key,))).fetchone()
        if request is None:
            return None
        if now - request["asked_at"] > ACCEPT_FOR:
            await _close(conn, request["id"], request["asked_at"] + ACCEPT_FOR)
            return None
        ratings = [parse(text) for text in texts if text.strip()]
        given = [r for r in ratings if r is not None]
        if given:
            await conn.execute("UPDATE desk_csat SET score = %s, raw_kind = %s, rated_at = %s"
                               " WHERE id = %s", (given[-1].score, given[-1].kind, now, request["id"]))
        pure = bool(ratings) and all(r is not None and r.pure for r in ratings)
        if not pure:
            await _close(conn, request["id"], now)
        return Rating(given[-1].score, given[-1].kind, pure) if given else None


async def _close(conn: Conn, request_id: int, at: datetime) -> None:
    await conn.execute("UPDATE desk_csat SET closed_at = %s WHERE id = %s", (at, request_id))


async def for_conversation(conn: Conn, key: str,
                           now: datetime | None = None) -> list[dict[str, Any]]:
    """The conversation's CSAT requests, newest first, each with its status: rated, waiting
    (still accepting a rating) or unanswered."""
    now = now or datetime.now(UTC)
    rows = await (await conn.execute(
        "SELECT agent_id, asked_at, score, raw_kind, rated_at, closed_at FROM desk_csat"
        " WHERE conversation_key = %s ORDER BY id DESC LIMIT 20", (key,))).fetchall()
    for row in rows:
        waiting = row["closed_at"] is None and now - row["asked_at"] <= ACCEPT_FOR
        row["status"] = "rated" if row["score"] else "waiting" if waiting else "unanswered"
    return rows


async def agent_averages(conn: Conn, team: str | None = None,
                         now: datetime | None = None) -> list[dict[str, Any]]:
    """Each agent's average rating and number of ratings over AVERAGE_OVER; only one team's
    agents when `team` is given (an agent sees their team, a supervisor everyone)."""
    since = (now or datetime.now(UTC)) - AVERAGE_OVER
    return await (await conn.execute(
        "SELECT c.agent_id, round(avg(c.score), 2) AS average, count(*) AS ratings"
        " FROM desk_csat c LEFT JOIN desk_agents a ON a.id = c.agent_id"
        " WHERE c.score IS NOT NULL AND c.rated_at >= %s AND (%s::text IS NULL OR a.team = %s)"
        " GROUP BY c.agent_id ORDER BY c.agent_id", (since, team, team))).fetchall()


async def forget(conn: Conn, key: str) -> None:
    """Delete the conversation's CSAT requests and ratings (erasure, `switchboard chat --new`)."""
    await conn.execute("DELETE FROM desk_csat WHERE conversation_key = %s", (key,))
