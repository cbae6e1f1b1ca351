"""The template catalogue against Meta's list: `switchboard templates check`.

Meta's templates come from the Graph API's GET /{waba-id}/message_templates, page by page
(cursor `after`, until a page has no `next`), with plain httpx: only five fields are read, and
pywa's `get_templates` would parse every component into its own types first, so one component
of a kind this pywa version does not know would fail the whole listing. The access token goes
only in the Authorization header of requests to the configured Graph URL (a `next` URL from
the answer is never followed as given).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from server.outbox.templates_catalog import TemplateCatalog
from server.outbox.templates_schema import Template

PAGE_SIZE = 100
MAX_PAGES = 200
"""A guard against a server that keeps answering with a next page."""
FIELDS = "name,language,status,category,components"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


class CloudApiError(RuntimeError):
    """The list could not be read; the message is one line, without the token."""


@dataclass(frozen=True)
class MetaTemplate:
    """One template in one language, as Meta has it."""

    name: str
    language: str
    status: str
    category: str
    parameters: tuple[str, ...]
    """Its placeholders (header, body, button URLs) in order: names, or "1", "2", ..."""


@dataclass(frozen=True)
class Finding:
    """One difference between the catalogue and Meta: kind, template, language, detail."""

    kind: str
    name: str
    language: str
    detail: str


def placeholders(components: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The parameters a template's components take, each once, in order of appearance."""
    texts: list[str] = []
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and str(component.get("format", "TEXT")).upper() == "TEXT" or kind == "BODY":
            texts.append(str(component.get("text") or ""))
        elif kind == "BUTTONS":
            texts += [str(b.get("url") or "") for b in component.get("buttons") or ()]
    return tuple(dict.fromkeys(m for text in texts for m in _PLACEHOLDER.findall(text)))


def _error(response: httpx.Response) -> CloudApiError:
    try:
        error = response.json()["error"]
        said = f"{str(error.get('message', ''))[:200]} (code {error.get('code')})"
    except (ValueError, KeyError, TypeError, AttributeError):
        said = response.reason_phrase or "no error body"
    return CloudApiError(f"the Cloud API answered {response.status_code}: {said}")


def fetch(client: httpx.Client, *, graph_url: str, api_version: str, waba_id: str,
          token: str, page_size: int = PAGE_SIZE) -> list[MetaTemplate]:
    """Every template of the WhatsApp Business Account `waba_id`, all pages."""
    url = f"{graph_url.rstrip('/')}/{api_version}/{waba_id}/message_templates"
    where = urlsplit(graph_url).netloc or graph_url
    found: list[MetaTemplate] = []
    params: dict[str, str | int] = {"fields": FIELDS, "limit": page_size}
    for _ in range(MAX_PAGES):
        try:
            response = client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as error:
            raise CloudApiError(f"cannot reach the Cloud API at {where}: {type(error).__name__}") from None
        if response.status_code != 200:
            raise _error(response)
        try:
            page = response.json()
            found += [MetaTemplate(str(t["name"]), str(t["language"]), str(t.get("status", "")).upper(),
                                   str(t.get("category", "")).lower(), placeholders(t.get("components") or ()))
                      for t in page.get("data") or ()]
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CloudApiError(f"the Cloud API at {where} answered something that is not a template list") from None
        if not paging.get("next") or not after or after == params.get("after"):
            return found
        params["after"] = str(after)
    raise CloudApiError(f"the Cloud API at {where} kept paging past {MAX_PAGES} pages")


def _differences(ours: Template, found: MetaTemplate) -> list[tuple[str, str]]:
    """(kind, detail) of each way Meta's `found` differs from the catalogue's `ours`."""
    differs = []
    if found.status != "APPROVED":
        differs.append(("not_approved", f"status {found.status or 'unknown'}"))
    if found.category != ours.category:
        differs.append(("category_mismatch", f"catalogue says {ours.category}, Meta says {found.category or 'none'}"))
    named = ours.parameter_format == "named"
    if len(found.parameters) != len(ours.parameters) or (
            named and set(found.parameters) != set(ours.parameter_names)):
        differs.append(("parameter_mismatch",
                        f"catalogue has {len(ours.parameters)} ({', '.join(ours.parameter_names) or 'none'}),"
                        f" Meta has {len(found.parameters)} ({', '.join(found.parameters) or 'none'})"))
    return differs


def compare(catalog: TemplateCatalog, meta: Iterable[MetaTemplate]) -> list[Finding]:
    """What is wrong between the catalogue and Meta's templates; empty when they match."""
    theirs = {(t.name, t.language): t for t in meta}
    findings = []
    for ours in catalog:
        found = theirs.get(ours.key)
        differs = ([("missing_from_meta", "in the catalogue, not in Meta's list")] if found is None
                   else _differences(ours, found))
        findings += [Finding(kind, ours.name, ours.language, detail) for kind, detail in differs]
    ours_keys = {t.key for t in catalog}
    # Only approved ones: a rejected or paused template could not be sent anyway.
    findings += [Finding("missing_from_catalogue", t.name, t.language, "approved at Meta, not in the catalogue")
                 for key, t in sorted(theirs.items()) if key not in ours_keys and t.status == "APPROVED"]
    return findings
