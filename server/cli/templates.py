"""`switchboard templates list | check`: the catalogue of approved WhatsApp templates
(server/outbox/templates_catalog.py), and its comparison with Meta's list
(server/outbox/templates_meta.py). Exit codes of `check`: 0 all match, 1 something differs or
Meta's list could not be read, 2 no token or WABA id configured, or an invalid catalogue."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

templates_app = typer.Typer(help="The catalogue of approved WhatsApp templates.", no_args_is_help=True)
console = Console()
META_GRAPH = "https://graph.facebook.com"
"""Where `check` asks when META__GRAPH_URL is unset (the simulator's fake is not the account)."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True).print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings_and_catalog():
    from server.cli.serve import load_settings
    from server.outbox.templates_catalog import TemplateCatalogError, catalog_for

    settings = load_settings()  # one that does not parse: one line, exit 2
    try:
        return settings, catalog_for(settings)
    except TemplateCatalogError as error:
        raise _fail(str(error)) from None


@templates_app.command("list")
def list_templates():
    """Show the catalogue: each template per language, its category and parameters."""
    _settings, catalog = _settings_and_catalog()
    table = Table(title=f"Templates in {catalog.source}")
    for column in ("name", "language", "category", "parameters", "re-engagement"):
        table.add_column(column)
    for t in catalog:
        table.add_row(t.name, t.language, t.category, ", ".join(t.parameter_names) or "-",
                      "yes" if t.reengagement else "")
    console.print(table)


def _credentials(settings) -> tuple[str, str, str]:
    """(graph URL, WABA id, token), or exit 2 naming what is missing."""
    from server.demo_mode import is_loopback, meta_defaults_left, url_host

    token = settings.meta.access_token.get_secret_value().strip()
    if not token or "access_token" in meta_defaults_left(settings):
        raise _fail("templates check needs a Meta access token: set META__ACCESS_TOKEN (and META__WABA_ID)")
    waba = (settings.meta.waba_id or "").strip()
    if not waba:
        raise _fail("templates check needs the WhatsApp Business Account id: set META__WABA_ID")
    graph = (settings.meta.graph_url or "").strip() or META_GRAPH
    if urlsplit(graph).scheme != "https" and not is_loopback(url_host(graph)):
        raise _fail("META__GRAPH_URL must be https: the access token travels with the request")
    return graph, waba, token


@templates_app.command("check")
def check():
    """Compare the catalogue with the templates Meta has for META__WABA_ID: missing at Meta,
    not approved, category or parameter mismatch, approved at Meta but not in the catalogue."""
    import httpx

    from server.outbox.templates_meta import CloudApiError, compare, fetch

    settings, catalog = _settings_and_catalog()
    graph, waba, token = _credentials(settings)
    try:
        with httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0)) as client:
            meta = fetch(client, graph_url=graph, api_version=settings.meta.api_version,
                         waba_id=waba, token=token)
    except CloudApiError as error:
        raise _fail(f"cannot check the templates: {error}", 1) from None
    findings = compare(catalog, meta)
    if not findings:
        console.print(f"All {len(catalog.templates)} catalogue templates match Meta's"
                      f" ({len(meta)} templates listed).")
        return
    table = Table(title=f"{len(findings)} difference{'s' if len(findings) > 1 else ''}"
                        f" between {catalog.source} and Meta")
    for column in ("problem", "template", "language", "detail"):
        table.add_column(column)
    for f in findings:
        table.add_row(f.kind, f.name, f.language, f.detail)
    console.print(table)
    raise typer.Exit(1)
