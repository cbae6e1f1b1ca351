"""What consent asks of a turn (server/inbound/consent_turn.py Plan), the first-contact line,
and how the desk is told of a refused message: no database needed."""

from __future__ import annotations

import pytest

from graph.base.settings import BusinessSettings
from nodes import prompts
from nodes.prompts_i18n import localized
from server.consent import first_contact
from server.consent.keywords import keyword_of, last_keyword
from server.inbound.consent_turn import Plan
from server.outbox import opt_out, problems


def plan(texts: list[str], opted_out: bool) -> Plan:
    keyword, rest = last_keyword(texts)
    return Plan(keyword, rest, opted_out)


@pytest.mark.parametrize(("texts", "opted_out", "without_graph", "confirms_opt_in"), [
    (["STOP"], False, True, False),             # opted out, confirmed, no bot answer
    (["STOP"], True, True, False),              # a repeat: recorded, silent
    (["hi", "Stop!"], False, True, False),      # the last word is STOP: nothing answered
    (["where is my order?"], True, True, False),  # opted out: the bot stays quiet
    (["START"], True, True, True),              # opted back in: only the confirmation
    (["START", "where is my order?"], True, False, True),  # confirmed, then answered
    (["start"], False, False, False),           # never opted out: the bot answers as usual
    (["STOP", "start"], False, False, False),
    (["stop sending the wrong size"], False, False, False),
])
def test_which_turns_the_graph_runs(texts, opted_out, without_graph, confirms_opt_in):
    chosen = plan(texts, opted_out)
    assert chosen.without_graph is without_graph
    assert chosen.confirms_opt_in is confirms_opt_in


@pytest.mark.parametrize("language", ["en", "es", "de", "fr", "pt"])
def test_the_first_contact_line_names_the_brand_in_the_customers_language(language):
    business = BusinessSettings(name="Acme Tiles")
    line = first_contact.line(business, language)
    assert "Acme Tiles" in line and "{" not in line
    assert line == prompts.fill(localized(prompts.FIRST_CONTACT, language), business)


def test_a_language_the_business_does_not_write_gets_its_first():
    business = BusinessSettings(name="Acme", languages=["de", "en"])
    assert first_contact.line(business, "fr") == first_contact.line(business, "de")
    assert first_contact.line(business, None).startswith("Sie schreiben")


def test_a_refused_row_tells_agents_why_and_a_provider_failure_still_reads_as_one():
    refused = {"provider": "meta", "last_error": dict(opt_out.ERROR)}
    assert problems.status_reason(refused).startswith("not sent: the customer opted out")
    failed = {"provider": "meta", "last_error": [{"code": 131026, "title": "Undeliverable"}]}
    assert problems.status_reason(failed) == "WhatsApp reported it failed: 131026 Undeliverable"
    assert opt_out.is_refusal(opt_out.ERROR) and not opt_out.is_refusal({"code": 131026})


def test_keywords_in_the_confirmations_round_trip():
    assert keyword_of("DÉMARRER").action.value == "opt_in"  # what the French STOP reply prints
