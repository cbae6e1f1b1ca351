"""Which templates an agent may send a customer, and a send filled from what the agent typed.

The console offers the catalogue's utility templates (server/outbox/templates_catalog.py),
each in the customer's language, else in the business's default language. Marketing
templates need the customer's marketing opt-in, which the desk does not record, and
authentication templates carry one-time codes that systems send, so neither is offered. The
same rule judges a send: whatever a browser posts, a template that is not offered, in a
language that is not the one offered, or with other parameters than its own is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from server.outbox.templates_catalog import TemplateCatalog
from server.outbox.templates_schema import BODY_LIMIT, Category, Template

OFFERED_CATEGORIES = frozenset({Category.UTILITY})
"""What agents may send from the console."""
VALUE_LIMIT = 200
"""Longest value an agent may type for one parameter."""
_SPACES = re.compile(r" {5,}")


class TemplateRefused(ValueError):
    """The template or its parameters cannot be sent; the message says why, for the agent."""


def offered(catalog: TemplateCatalog, language: str | None) -> list[Template]:
    """The templates an agent may send a customer in `language`, one entry per name."""
    best = (catalog.best(name, language) for name in catalog.names())
    return [t for t in best if t is not None and t.category in OFFERED_CATEGORIES]


def _value(template: Template, name: str, raw: str) -> str:
    """One parameter's value as Meta takes it: one line, no tabs, at most four spaces in a row."""
    value = raw.strip()
    if not value:
        raise TemplateRefused(f"{template.name}: fill in {name}")
    if len(value) > VALUE_LIMIT:
        raise TemplateRefused(f"{template.name}: {name} is over {VALUE_LIMIT} characters")
    if any(c in value for c in "\r\n\t") or _SPACES.search(value):
        raise TemplateRefused(f"{template.name}: {name} must be one line, without tabs or runs of spaces")
    return value


def fill(catalog: TemplateCatalog, language: str | None, name: str, template_language: str,
         values: Mapping[str, str]) -> tuple[Template, dict[str, Any]]:
    """The template `name` in `template_language` filled with `values` by parameter name, as the
    outbox stores it ({"name", "language", "params": Meta's components}); TemplateRefused when
    it is not offered for a customer in `language` or the values are not its parameters. An
    empty `template_language` means the language it is offered in."""
    if not template_language:
        template_language = next((t.language for t in offered(catalog, language) if t.name == name), "")
    entry = catalog.get(name, template_language)
    if not any(t.name == name for t in catalog):
        raise TemplateRefused(f"there is no template {name[:80]!r} in the catalogue")
    if entry is None or entry not in offered(catalog, language):
        choice = next((t for t in offered(catalog, language) if t.name == name), None)
        if choice is None:
            raise TemplateRefused(f"{name} is not offered from the console (only utility templates are)")
        raise TemplateRefused(f"{name} goes to this customer in {choice.language},"
                              f" not {template_language[:20]!r}")
    if unknown := sorted(set(values) - set(entry.parameter_names)):
        raise TemplateRefused(f"{name} has no parameter {unknown[0][:60]!r}")
    filled = {p: _value(entry, p, values.get(p, "")) for p in entry.parameter_names}
    if len(entry.render(filled)) > BODY_LIMIT:
        raise TemplateRefused(f"{name}: the message would be over {BODY_LIMIT} characters")
    sent: dict[str, Any] = {"name": entry.name, "language": entry.language}
    if filled:
        named = entry.parameter_format == "named"
        sent["params"] = [{"type": "body", "parameters": [
            {"type": "text", "text": filled[p], **({"parameter_name": p} if named else {})}
            for p in entry.parameter_names]}]
    return entry, sent
