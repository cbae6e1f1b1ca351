"""Defence in depth for logs: every record's text passes through the same redaction as
customer messages before any handler writes it.

Code should not log customer text in the first place; this filter catches what slips through:
an exception whose message quotes a payload, a library's debug line, a dict logged with %r.
It sits on the handlers, so it runs after logger-level filters (such as the Slack webhook URL
filter in `server.desk.notify`) and for records from every logger that reaches them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graph.base.pii import redact

_FORMATTER = logging.Formatter()
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})|([nrt]))")


def _unescaped(text: str) -> str:
    """repr()'s escapes undone (\\u200b, \\n, ...): `%r` of a string with a zero-width space
    or a line break in a card number must not hide it from the patterns."""
    def one(match: re.Match) -> str:
        code = match.group(1) or match.group(2) or match.group(3)
        return chr(int(code, 16)) if code else {"n": "\n", "r": "\r", "t": "\t"}[match.group(4)]
    return _ESCAPE.sub(one, text) if "\\" in text else text


def _scrubbed(text: str) -> tuple[str, bool]:
    cleaned, found = redact(_unescaped(text))
    return (cleaned, True) if found else (text, False)


def _clean(value: Any, depth: int = 0) -> Any:
    """An argument with the strings inside it redacted; containers keep their type."""
    if isinstance(value, str):
        return _scrubbed(value)[0]
    if depth < 3 and type(value) in (list, tuple, set):
        return type(value)(_clean(item, depth + 1) for item in value)
    if depth < 3 and type(value) is dict:
        return {key: _clean(item, depth + 1) for key, item in value.items()}
    if isinstance(value, BaseException):
        text, found = _scrubbed(str(value))
        return f"{type(value).__name__}: {text}" if found else value
    return value


class RedactPersonalData(logging.Filter):
    """Rewrites a record's arguments, message, traceback and stack text with personal data
    redacted. A record with nothing to redact keeps its message and arguments as they were."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple | dict):
            record.args = _clean(record.args)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: logging reports it itself
            return True
        cleaned, found = _scrubbed(message)
        if found:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrubbed(record.exc_text)[0]
        if record.stack_info:
            record.stack_info = _scrubbed(record.stack_info)[0]
        return True


def install(logger: logging.Logger | None = None) -> RedactPersonalData:
    """Put the filter on every handler of `logger` (the root logger by default) and on
    logging's last-resort handler; calling it again adds nothing."""
    target = logger or logging.getLogger()
    handlers = [*target.handlers, *([logging.lastResort] if logging.lastResort else [])]
    existing = next((f for h in handlers for f in h.filters if isinstance(f, RedactPersonalData)), None)
    installed = existing or RedactPersonalData()
    for handler in handlers:
        if not any(isinstance(f, RedactPersonalData) for f in handler.filters):
            handler.addFilter(installed)
    return installed
