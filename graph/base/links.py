"""Links in text the bot sends: found as WhatsApp finds them, kept only for allowed hosts.

WhatsApp makes text tappable without a scheme (evil-example.com), in any case
(HTTPS://EVIL.EXAMPLE), for unicode and punycode hosts and for email addresses, and a link
may show one host and open another (https://harborandpine.example@evil.com). So a link is:
- a scheme URL: http(s) with any slashes, any `scheme://`, or a scheme that acts on a tap
  without slashes (javascript:, data:, mailto:, tel:, intent:, ...);
- a bare host: dotted labels ending in a plausible TLD (punycode `xn--...`, or 2-24 letters
  in any script, except file extensions that are no TLD: manual.pdf), a www. host, or a
  dotted IPv4 address. No TLD list: a new TLD must not slip through, so "St.Ives" counts;
- an email address (its domain is the host judged).
Text is judged after `graph.base.pii.normalize` (NFKC, invisible characters dropped) with
ideographic full stops read as dots, so look-alike and zero-width obfuscations count.

A link stays only if it is http(s) with exactly `//`, or bare; its host is exactly on the
allow-list (subdomains are not implied: list each host); and it has no user info, no port,
and no path carrying a backslash, `//` or another host. Anything else becomes REMOVED.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from graph.base.pii import normalize

REMOVED = "[link removed]"

_DOTS = str.maketrans({"\u3002": ".", "\uff61": ".", "\uff0e": "."})
"""Ideographic full stops, which IDNA (and so browsers) read as label separators."""
_WORD_START = re.compile(r"(?<![\w-])[\w-]")
"""Where a link may begin: also right after a dot, so "Click...evil.com" is seen."""
_SCHEME = re.compile(r"([a-z][a-z0-9+-]{0,30}):", re.I)
_EMAIL = re.compile(r"([\w.+%-]{1,64})@([\w-]+(?:\.[\w-]+)+)")
_HOST = re.compile(r"[\w-]{1,63}(?:\.[\w-]{1,63}){1,126}")
"""Bounded like DNS names, so a pathological text costs linear time."""
_PORT = re.compile(r":\d")
_IPV4 = re.compile(r"\d{1,10}(?:\.\d{1,10}){3}")
_SAFE_TAIL = re.compile(r"[A-Za-z0-9\-._~/?#=&%+]*")
_TRAILING = ".,;:!?'\"*_~\u2019\u201d\u00bb"
"""Sentence punctuation and WhatsApp's *bold* _italic_ ~strike~ marks end a link."""
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}

TAP_SCHEMES = frozenset({
    "javascript", "vbscript", "data", "file", "blob", "about", "mailto", "tel", "sms", "smsto",
    "mms", "callto", "facetime", "geo", "maps", "market", "intent", "whatsapp", "tg", "fb",
    "ftp", "ftps", "sftp", "ssh", "telnet", "ws", "wss", "irc", "magnet", "bitcoin", "upi",
    "skype", "viber", "zoommtg", "itms-apps", "itms-services", "android-app", "content", "chrome"})
"""Schemes a phone or browser acts on even without `//`."""
NOT_TLDS = frozenset({
    "pdf", "jpg", "jpeg", "png", "gif", "webp", "heic", "svg", "bmp", "tif", "tiff", "txt",
    "csv", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "rtf", "json", "xml",
    "html", "htm", "yaml", "yml", "toml", "ini", "log", "tmp", "bak", "exe", "dmg", "eps"})
"""File extensions that are not delegated TLDs (zip, mov, md, py are TLDs: they count)."""


def looks_like_host(host: str) -> bool:
    """Whether dotted text would be tapped as a host."""
    labels = host.split(".")
    if len(labels) < 2 or not all(labels):
        return False
    last = labels[-1].lower()
    if _IPV4.fullmatch(host) or labels[0].lower() == "www" or last.startswith("xn--"):
        return True
    return last.isalpha() and 2 <= len(last) <= 24 and last not in NOT_TLDS


def _host_set(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in hosts if h.strip())


_ENDS_HOST = frozenset(_TRAILING) | frozenset(_CLOSERS) | frozenset("/?#\\:")
"""What may follow a bare host: anything else glued to it makes the whole token suspect."""


def _token_end(text: str, start: int) -> int:
    """Where a link starting at `start` ends: at whitespace, less closing punctuation
    (a closing bracket only when the link does not open it)."""
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    opened = {opener: text.count(opener, start, end) for opener in _CLOSERS.values()}
    closed = {closer: text.count(closer, start, end) for closer in _CLOSERS}
    while end > start:
        ch = text[end - 1]
        if ch in _CLOSERS and opened[_CLOSERS[ch]] < closed[ch]:
            closed[ch] -= 1
        elif ch not in _TRAILING:
            break
        end -= 1
    return end


def _safe_tail(tail: str) -> bool:
    """A path, query and fragment that open nothing but our own page."""
    return (bool(_SAFE_TAIL.fullmatch(tail)) and "//" not in tail
            and not any(looks_like_host(part) for part in re.split(r"[/?#=&]", tail)))


def _scheme_url_allowed(rest: str, hosts: frozenset[str]) -> bool:
    """`rest` is what follows `http:` or `https:`."""
    if not rest.startswith("//") or rest[2:3] in ("/", "\\"):
        return False  # https:evil.com, https:/x and https:///x still open a host in browsers
    authority = re.split(r"[/\\?#]", rest[2:], maxsplit=1)[0]
    if "@" in authority or ":" in authority:  # user info or port
        return False
    return authority.lower() in hosts and _safe_tail(rest[2 + len(authority):])


def _link_at(text: str, start: int, hosts: frozenset[str]) -> tuple[int, bool] | None:
    """The link starting at `start`: where it ends and whether it may stay; None if no link."""
    if scheme := _SCHEME.match(text, start):
        name, end = scheme.group(1).lower(), _token_end(text, start)
        rest = text[scheme.end():end]
        if name in ("http", "https") and rest:
            return end, _scheme_url_allowed(rest, hosts)
        if rest.startswith("//") or (name in TAP_SCHEMES and rest):
            return end, False
    if (email := _EMAIL.match(text, start)) and looks_like_host(email.group(2)):
        if text[email.end():email.end() + 1] in tuple("/\\?#:"):  # user info of a URL
            return _token_end(text, start), False
        return email.end(), email.group(2).lower() in hosts
    if (host := _HOST.match(text, start)) and looks_like_host(host.group()):
        allowed = host.group().lower() in hosts
        after = text[host.end():host.end() + 1]
        if _PORT.match(text, host.end()) or (after and not after.isspace() and after not in _ENDS_HOST):
            return _token_end(text, start), False  # a port, or more glued on (%2F, @, a dash)
        if text[host.end():host.end() + 1] in tuple("/\\?#"):
            end = _token_end(text, start)
            return end, allowed and _safe_tail(text[host.end():end])
        return host.end(), allowed
    return None


def find_links(text: str, allowed_hosts: Iterable[str]) -> list[tuple[int, int, bool]]:
    """Every link in already-folded text: (start, end, allowed)."""
    hosts = _host_set(allowed_hosts)
    found: list[tuple[int, int, bool]] = []
    pos = 0
    while word := _WORD_START.search(text, pos):
        link = _link_at(text, word.start(), hosts)
        if link is None:
            pos = word.start() + 1
        else:
            found.append((word.start(), *link))
            pos = max(link[0], word.start() + 1)
    return found


def fold(text: str) -> tuple[str, list[int]]:
    """The text as links are judged, and for each folded character its original index."""
    chars, origin = [], []
    for i, ch in enumerate(text):
        for folded in normalize(ch).translate(_DOTS):
            chars.append(folded)
            origin.append(i)
    return "".join(chars), origin


def _rebuild(text: str, folded: str, origin: list[int],
             links: Iterable[tuple[int, int, bool]]) -> tuple[str, int]:
    parts, last, removed = [], 0, 0
    for start, end, allowed in links:
        a, b = max(origin[start], last), origin[end - 1] + 1
        parts += [text[last:a], folded[start:end] if allowed else REMOVED]
        removed += not allowed
        last = b
    return "".join(parts) + text[last:], removed


def remove_links(text: str, allowed_hosts: Iterable[str]) -> tuple[str, int]:
    """The text with every link that is not allowed replaced by REMOVED, and how many were."""
    hosts = _host_set(allowed_hosts)
    folded, origin = fold(text)
    result, removed = _rebuild(text, folded, origin, find_links(folded, hosts))
    # Per-character folding can miss what whole-text NFKC composes; judge that text too.
    whole = normalize(result).translate(_DOTS)
    if any(not allowed for _, _, allowed in find_links(whole, hosts)):
        result, more = _rebuild(whole, whole, list(range(len(whole))), find_links(whole, hosts))
        removed += more
    return result, removed


def is_allowed_url(url: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether a stored URL (a document's, a citation's) is one http(s) link to an allowed host."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or fold(url)[0] != url:
        return False
    return find_links(url, allowed_hosts) == [(0, len(url), True)]
