"""Markdown to WhatsApp markup, for every text the bot sends (`nodes.common.say`).

WhatsApp reads *bold*, _italic_, ~strike~, `inline code`, ```monospace``` blocks, "- " or
"1. " lists and "> " quotes, and makes URLs tappable by itself. Models write Markdown. So:

- `**b**`, `__b__` -> `*b*`; `***bi***`, `___bi___` -> `*_bi_*`; `~~s~~` -> `~s~`;
  a Markdown `*i*` inside bold -> `_i_`;
- a single `*x*` stays: it is already WhatsApp bold, and formatting must be idempotent (what
  `**b**` becomes must not change again);
- `# Heading` -> `*Heading*`; "- item", "* item", "+ item" -> "• item"; numbered lists and
  quotes stay; a `---` rule line goes;
- `[text](url)` and `![alt](url)` -> "text: url" (just the URL when the text is the URL),
  `<url>` -> url; bare URLs and emails are never touched (no italics from underscores in
  them); code keeps its content (a fence loses its language tag);
- emphasis needs its markers at word edges, so `2*3`, `5 ** 2` and snake_case stay as typed.

Text without Markdown comes out unchanged, and formatting twice gives what formatting once did.
Human agents' console replies do not pass here: they are sent as typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_OPEN, _CLOSE = "\ue000", "\ue001"
"""Private-use characters around the number of a protected span while the text is rewritten."""

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(\s*<?([^()\s<>]+(?:\([^()\s]*\))?[^()\s<>]*|[^()\n]*?)>?"
                   r"(?:\s+\"[^\"\n]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:[a-z][a-z0-9+.-]*:|www\.)[^\s<>]+)>", re.I)
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
                  r"|\b[\w-]+(?:\.[\w-]+)+/[^\s<>]*", re.I)
_URL_TAIL = ".,;:!?'\"*_~)]"
"""Punctuation and emphasis markers after a URL end it (a closing bracket only if unopened)."""

_RULE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.M)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(?=\S)", re.M)


def _emphasis(marker: str) -> re.Pattern[str]:
    """`marker`-delimited text on one line, markers at word edges and hugging the text."""
    m, c = re.escape(marker), re.escape(marker[0])
    return re.compile(rf"(?<![\w{c}\\]){m}(?![\s{c}])(.+?)(?<![\s{c}\\]){m}(?![\w{c}])")


_BOLD_ITALIC = (_emphasis("***"), _emphasis("___"))
_BOLD = (_emphasis("**"), _emphasis("__"))
_ITALIC_STAR = _emphasis("*")
_STRIKE = _emphasis("~~")


def to_whatsapp(text: str) -> str:
    """`text` with its Markdown rewritten as WhatsApp markup (see the module docstring)."""
    if _OPEN in text or _CLOSE in text:
        return text  # our placeholders cannot be told apart: send it as it is
    kept: list[str] = []

    def keep(span: str) -> str:
        kept.append(span)
        return f"{_OPEN}{len(kept) - 1}{_CLOSE}"

    text = _FENCE.sub(lambda m: keep(f"```\n{m.group(1)}```"), text)
    text = _INLINE_CODE.sub(lambda m: keep(m.group(0)), text)
    text = _LINK.sub(lambda m: _plain_link(m.group(1), m.group(2), keep), text)
    text = _AUTOLINK.sub(lambda m: keep(m.group(1)), text)
    text = _URL.sub(lambda m: _keep_url(m.group(0), keep), text)
    text = _RULE.sub("", text)
    text = _HEADING.sub(lambda m: f"*{_unmarked(m.group(1))}*", text)
    text = _BULLET.sub(r"\1• ", text)
    for pattern in _BOLD_ITALIC:
        text = pattern.sub(r"*_\1_*", text)
    for pattern in _BOLD:
        text = pattern.sub(lambda m: "*" + _ITALIC_STAR.sub(r"_\1_", m.group(1)) + "*", text)
    text = _STRIKE.sub(r"~\1~", text)
    return re.sub(f"{_OPEN}(\\d+){_CLOSE}", lambda m: kept[int(m.group(1))], text)


def _plain_link(label: str, url: str, keep: Callable[[str], str]) -> str:
    """A Markdown link as WhatsApp shows one: its text, then its URL (tappable by itself)."""
    url = url.strip()
    label = label.strip()
    if not url:
        return label
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.I).rstrip("/")
    if not label or label.rstrip("/") in (url.rstrip("/"), bare):
        return keep(url)
    return f"{label}: {keep(url)}"


def _keep_url(token: str, keep: Callable[[str], str]) -> str:
    """Protect a URL or email, leaving trailing punctuation and markers outside it."""
    end = len(token)
    while end and token[end - 1] in _URL_TAIL:
        if token[end - 1] == ")" and token.count("(", 0, end) >= token.count(")", 0, end):
            break  # a balanced bracket belongs to the URL (a Wikipedia-style path)
        end -= 1
    return keep(token[:end]) + token[end:] if end else token


def _unmarked(heading: str) -> str:
    """A heading's text without its own emphasis markers: the whole line becomes bold."""
    return re.sub(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1", r"\2", heading).strip()
