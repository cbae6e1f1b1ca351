"""The template catalogue: the approved WhatsApp message templates Switchboard may send, read
from server/outbox/templates.toml (or TEMPLATES__FILE) and validated at start.

Outside the 24-hour window WhatsApp takes only approved templates; the catalogue says which
exist, in which languages, of which Meta category, with which named parameters, and which one
re-engages a customer whose window has closed (the file's models and rules:
server/outbox/templates_schema.py). A bad file refuses to start with one line naming the file
and the first problem (server/startup_checks.py). What to offer an agent and how a send is
filled: server/outbox/templates_offer.py; the comparison with Meta's list:
server/outbox/templates_meta.py.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from graph.base.settings import Settings
from server.outbox.templates_schema import CatalogFile, Category, Template, base_language

BUNDLED = Path(__file__).with_name("templates.toml")


class TemplateCatalogError(ValueError):
    """The catalogue is missing, unreadable or invalid; the message is one line naming the file
    and the first problem."""


_PLAIN = {"extra_forbidden": "unknown key", "missing": "required",
          "enum": "must be one of " + ", ".join(Category),
          "too_short": "is empty (the file needs [[template]] tables)",
          "tuple_type": "must be a list of [[template]] tables", "model_type": "must be a table",
          "model_attributes_type": "must be a table"}
"""Pydantic's wording for structural errors, in the file's terms."""


def _one_line(error: ValidationError, source: str, data: Mapping[str, Any]) -> TemplateCatalogError:
    """The first problem as 'template catalogue <file>: template 2 (name, es): <where>: <what>'."""
    first = error.errors()[0]
    loc = list(first["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "template" and isinstance(loc[1], int):
        entry = (data.get("template") or [{}])[loc[1]]
        label = ", ".join(str(entry.get(k)) for k in ("name", "language") if isinstance(entry, dict) and entry.get(k))
        where = f"template {loc[1] + 1}" + (f" ({label})" if label else "")
        loc = loc[2:]
    field = ".".join(str(part + 1) if isinstance(part, int) else str(part) for part in loc)
    what = _PLAIN.get(first["type"], first["msg"].removeprefix("Value error, "))
    more = error.error_count() - 1
    return TemplateCatalogError(
        f"template catalogue {source}: " + "".join(f"{p}: " for p in (where, field) if p) + what
        + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""))


def parse(data: Mapping[str, Any], source: str, default_language: str = "en") -> TemplateCatalog:
    """A parsed catalogue file, validated; TemplateCatalogError names the first problem."""
    try:
        checked = CatalogFile.model_validate(data, context={"default_language": default_language})
    except ValidationError as error:
        raise _one_line(error, source, data) from None
    return TemplateCatalog(checked.template, default_language, source)


def load(path: Path | str | None = None, default_language: str = "en") -> TemplateCatalog:
    """The catalogue in `path` (else the bundled templates.toml), validated."""
    path = Path(path or BUNDLED)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateCatalogError(f"template catalogue {path}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateCatalogError(f"template catalogue {path}: not valid TOML ({exc})") from None
    return parse(data, str(path), default_language)


@lru_cache(maxsize=8)
def _cached(path: str, default_language: str) -> TemplateCatalog:
    return load(path, default_language)


def catalog_for(settings: Settings) -> TemplateCatalog:
    """The catalogue these settings name (TEMPLATES__FILE, else the bundled one), checked against
    the business's default language; read once per process, like the settings themselves."""
    return _cached(str(settings.templates.file or BUNDLED), base_language(settings.business.languages[0]))


class TemplateCatalog:
    """The validated templates, looked up by name and language."""

    def __init__(self, templates: tuple[Template, ...], default_language: str, source: str = "<dict>"):
        self.templates, self.default_language, self.source = templates, default_language, source

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates)

    def get(self, name: str, language: str) -> Template | None:
        """The entry of `name` in exactly `language`."""
        return next((t for t in self.templates if t.key == (name, language)), None)

    def best(self, name: str, language: str | None) -> Template | None:
        """`name` in the customer's `language` (exact code, else the same base language), else
        in the business's default language; None when it has neither."""
        return _pick([t for t in self.templates if t.name == name], language, self.default_language)

    def names(self) -> list[str]:
        return list(dict.fromkeys(t.name for t in self.templates))

    def reengagement(self, language: str | None) -> dict[str, str]:
        """The outbox's window template for a customer in `language` (else the default's)."""
        chosen = _pick([t for t in self.templates if t.reengagement], language, self.default_language)
        if chosen is None:  # validation keeps one in the default language
            raise TemplateCatalogError(f"template catalogue {self.source}: no re-engagement template")
        return {"name": chosen.name, "language": chosen.language}


def _pick(entries: list[Template], *languages: str | None) -> Template | None:
    """The first of `entries` in the first of `languages` that has one: its exact code first,
    then its base language (a customer detected as "pt" gets pt_BR)."""
    for wanted in filter(None, languages):
        exact = [t for t in entries if t.language == wanted.replace("-", "_")]
        same = [t for t in entries if base_language(t.language) == base_language(wanted)]
        if exact or same:
            return (exact or same)[0]
    return None
